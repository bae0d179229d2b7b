/**
 * HTTP requests as they are written on the wire, which fetch cannot send: a body
 * string with escapes exactly as given, and a header sent more than once (an
 * array value is one header line per entry; fetch would join them).
 */
import { request } from 'node:http';

/** The answer: status and body text (JSON parsed when it is JSON). */
export interface RawAnswer {
  readonly status: number;
  readonly text: string;
  readonly body: Record<string, unknown>;
}

/** Sends one request to `url`. */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON: the text is there
        }
        resolve({ status: res.statusCode ?? 0, text, body });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
