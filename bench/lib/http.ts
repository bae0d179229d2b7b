/**
 * A minimal keep-alive JSON client for decision requests: one socket, reused,
 * so a measured request pays no connection set-up (as a service calling its
 * sidecar would).
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

/**
 * Asks `path` every `intervalMs` until `accept` returns a value for an answer's headers (e.g. the
 * `x-warden-revision` of a newly published pack); resolves with it, the time of that answer and the
 * number of requests, or undefined after `timeoutMs`. Any non-200 answer throws.
 */
export async function pollUntil<T>(
  client: KeepAliveClient,
  path: string,
  body: unknown,
  accept: (headers: IncomingHttpHeaders) => T | undefined,
  opts: { intervalMs: number; timeoutMs: number },
): Promise<{ value: T; at: number; requests: number } | undefined> {
  const deadline = performance.now() + opts.timeoutMs;
  for (let requests = 1; performance.now() < deadline; requests++) {
    const res = await client.post(path, body);
    const at = performance.now();
    if (res.status !== 200) throw new Error(`the agent answered ${res.status}: ${JSON.stringify(res.body)}`);
    const value = accept(res.headers);
    if (value !== undefined) return { value, at, requests };
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
  return undefined;
}

/** One answer: status, headers and the parsed JSON body. */
export interface JsonResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/** POSTs JSON over one kept-alive connection per client. */
export class KeepAliveClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly #url: URL;

  constructor(baseUrl: string) {
    this.#url = new URL(baseUrl);
  }

  /** POST `path` with `body` as JSON; resolves with the parsed answer. */
  post(path: string, body: unknown): Promise<JsonResponse> {
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.#agent,
          host: this.#url.hostname,
          port: this.#url.port,
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: text === '' ? undefined : JSON.parse(text),
              });
            } catch (err) {
              reject(
                new Error(`${path}: answer is not JSON (${res.statusCode}): ${text.slice(0, 200)}`, { cause: err }),
              );
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes the kept-alive socket. */
  close(): void {
    this.#agent.destroy();
  }
}

/** The `result` of an OPA data API answer (undefined when absent). */
export function resultOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null && 'result' in body ? body.result : undefined;
}

/** Throws unless every example input gets its expected result from `url` + path. */
export async function checkDecisions(
  client: KeepAliveClient,
  path: string,
  cases: ReadonlyArray<{ readonly label: string; readonly input: unknown; readonly expect: unknown }>,
  who: string,
): Promise<void> {
  for (const c of cases) {
    const res = await client.post(path, { input: c.input });
    const got = resultOf(res.body);
    if (res.status !== 200 || got !== c.expect) {
      throw new Error(
        `${who} answered ${res.status} ${JSON.stringify(res.body)} for "${c.label}", expected result ${JSON.stringify(c.expect)}`,
      );
    }
  }
}
