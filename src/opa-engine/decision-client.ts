/**
 * Decisions from OPA's REST API over a pool of keep-alive connections (undici's
 * Pool: a unix socket for the child, TCP for an OPA Warden connects to): POST
 * /v1/data/<path> with the input spliced in as text, and the `result` member of
 * the answer spliced out as text — no JavaScript number in between. undici
 * rather than node:http's Agent: its per-request cost is a fraction of
 * node:http's, which is most of what Warden adds to OPA's own time (see
 * docs/benchmarks.md, "engine: opa").
 */
import { Pool, type Dispatcher } from 'undici';
import { WardenError, messageOf } from '../errors.js';
import type { EvaluateOptions } from '../engine/engine.js';
import { memberText } from '../engine/json-member.js';

/** Where OPA's API is: a unix socket path, or an http:// base URL. */
export type OpaAddress = { readonly socketPath: string } | { readonly url: string };

// Errors that mean "OPA is not there" (not started, restarting, gone).
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
// A connection OPA closed just as it was reused: the request never reached OPA, retried once.
const RETRIED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const MAX_CACHED_PATHS = 1024;
const HEADERS = { 'content-type': 'application/json' };

/** A client for one OPA's data API. */
export class DecisionClient {
  readonly #pool: Pool;
  readonly #urls = new Map<string, string>();
  readonly #basePath: string;

  constructor(address: OpaAddress) {
    const options: Pool.Options = { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 60_000 };
    if ('socketPath' in address) {
      this.#basePath = '';
      this.#pool = new Pool('http://opa', { ...options, socketPath: address.socketPath });
    } else {
      const u = new URL(address.url);
      if (u.protocol !== 'http:') throw new WardenError('USAGE', `OPA URL must be http://…, got ${address.url}`);
      this.#basePath = u.pathname.replace(/\/+$/, '');
      this.#pool = new Pool(u.origin, options);
    }
  }

  /** The `result` text of POST /v1/data/<path> (undefined: OPA says undefined). */
  async evaluate(
    path: string,
    inputJson: string | undefined,
    timeoutMs: number,
    options: EvaluateOptions = {},
  ): Promise<string | undefined> {
    const body = inputJson === undefined ? '{}' : `{"input":${inputJson}}`;
    const url = options.strictBuiltinErrors ? `${this.#urlOf(path)}?strict-builtin-errors=true` : this.#urlOf(path);
    const deadline = performance.now() + timeoutMs;
    try {
      return await this.#post(url, body, timeoutMs);
    } catch (err) {
      if (!(err instanceof Retry)) throw err;
      if (performance.now() >= deadline) throw err.error;
      try {
        return await this.#post(url, body, deadline - performance.now());
      } catch (again) {
        throw again instanceof Retry ? again.error : again;
      }
    }
  }

  // The request path of a data path, cached (a pack has few entrypoints; the cache is bounded).
  #urlOf(path: string): string {
    let url = this.#urls.get(path);
    if (url === undefined) {
      url = `${this.#basePath}/v1/data/${path.split('/').map(encodeURIComponent).join('/')}`;
      if (this.#urls.size >= MAX_CACHED_PATHS) this.#urls.clear();
      this.#urls.set(path, url);
    }
    return url;
  }

  /** GET /health answers 200 (OPA's health API). */
  async healthy(timeoutMs: number): Promise<boolean> {
    try {
      const res = await this.#pool.request({
        method: 'GET',
        path: `${this.#basePath}/health`,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /**
   * Sends one POST that OPA refuses without evaluating anything (POST /health: 405), so that
   * the first decision does not pay for undici's lazy start (its HTTP parser is compiled on
   * first use) and the connection is open. No decision is made, none is logged.
   */
  async warm(timeoutMs: number): Promise<void> {
    try {
      const res = await this.#pool.request({
        method: 'POST',
        path: `${this.#basePath}/health`,
        headers: HEADERS,
        body: '{}',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
    } catch {
      // Only a warm-up: the first decision reports any real failure.
    }
  }

  /** Closes the pool's connections. */
  close(): void {
    void this.#pool.destroy().catch(() => undefined);
  }

  async #post(url: string, body: string, timeoutMs: number): Promise<string | undefined> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const res = await this.#pool.request({ method: 'POST', path: url, headers: HEADERS, body, signal: abort.signal });
      return answerOf(res.statusCode, await readAnswer(res.body));
    } catch (err) {
      if (abort.signal.aborted) {
        throw new WardenError('OPA_DECISION_TIMEOUT', `OPA did not answer ${url} within ${Math.round(timeoutMs)} ms`, {
          details: { path: url, timeout_ms: Math.round(timeoutMs) },
        });
      }
      throw failure(err);
    } finally {
      clearTimeout(timer);
    }
  }
}

// A transport error as Warden's: retried once, OPA_UNAVAILABLE, or DECISION_FAILED.
function failure(err: unknown): Error {
  if (err instanceof WardenError) return err;
  const code = (err as { code?: unknown }).code;
  const errno = typeof code === 'string' ? code : '';
  const unavailable = new WardenError('OPA_UNAVAILABLE', `OPA is not answering: ${messageOf(err)}`, {
    cause: err,
    details: { errno },
  });
  if (RETRIED.has(errno)) return new Retry(unavailable);
  if (UNAVAILABLE.has(errno) || errno === '') return unavailable;
  return new WardenError('DECISION_FAILED', `OPA request failed: ${messageOf(err)}`, { cause: err });
}

/** A failure on a reused keep-alive connection: retried once. */
class Retry extends Error {
  constructor(readonly error: WardenError) {
    super(error.message);
  }
}

// The answer (bounded) as text.
async function readAnswer(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const c = chunk as Buffer;
    size += c.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      throw new WardenError('DECISION_FAILED', `OPA's answer is over ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(c);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
}

// 200: the result text; any other status: DECISION_FAILED with OPA's error body.
function answerOf(status: number, text: string): string | undefined {
  if (status === 200) return memberText(text, 'result');
  let opa: unknown = text;
  try {
    opa = JSON.parse(text);
  } catch {
    // kept as text
  }
  const message = typeof opa === 'object' && opa !== null && 'message' in opa ? String(opa.message) : text;
  throw new WardenError('DECISION_FAILED', `OPA answered ${status}: ${message}`, {
    details: { status, opa },
  });
}
