/**
 * A serving process's way to the primary for every route it does not answer itself (admin,
 * health, metrics, OPA's status and policy routes): the request is streamed to
 * the primary's own server on the loopback and its answer streamed back, untouched, so the
 * primary's routes, auth and error shapes apply as they are. The client's address travels
 * in X-Forwarded-For (the primary trusts it from the loopback only). When the primary
 * cannot be reached the answer is 503 PRIMARY_UNAVAILABLE (in OPA's error shape on OPA's
 * routes); a client that goes away ends
 * the upstream request (a long-lived event stream included).
 */
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { WardenError, httpStatusOf, messageOf } from '../errors.js';
import { isOpaRoute, opaErrorBody } from '../http/opa-errors.js';

// Headers that name one connection, not the message: never passed on (RFC 9110, section 7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

/** A handler that passes requests on to `target`. */
export function proxyTo(target: { readonly host: string; readonly port: number }): {
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  readonly close: () => void;
} {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const client = req.socket.remoteAddress ?? '';
    const forwarded = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = typeof forwarded === 'string' && forwarded !== '' ? `${forwarded}, ${client}` : client;
    const upstream = request(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        const out: string[] = [];
        const raw = answer.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) {
          const name = raw[i] ?? '';
          if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] ?? '');
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy(err);
        return;
      }
      const e = new WardenError('PRIMARY_UNAVAILABLE', `the agent's primary process did not answer: ${messageOf(err)}`);
      const status = httpStatusOf(e.code);
      // On OPA's routes (/health, /v1/status …) in OPA's error shape, as the primary would answer.
      const body = isOpaRoute(req.url ?? '')
        ? opaErrorBody(e, status)
        : JSON.stringify({ code: e.code, message: e.message });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(body);
    });
    // The client went away before the answer ended (a closed event stream): end the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
  return { handle, close: () => agent.destroy() };
}
