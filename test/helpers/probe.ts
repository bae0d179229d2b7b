/**
 * The status of one GET, over http or https (trusting a given CA), for the
 * readiness checks of servers the tests start (registry, MinIO): undefined
 * while nothing answers, never a throw.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The status of GET url (trusting ca for https); undefined when nothing answers within 2 s. */
export function probeStatus(url: string, ca?: Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, ca ? { ca } : {}, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.setTimeout(2_000, () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}
