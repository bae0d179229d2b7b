/**
 * Decisions from OPA's REST API over one keep-alive HTTP agent (a unix socket
 * for the child, TCP for an OPA Warden connects to): POST /v1/data/<path> with
 * the input spliced in as text, and the `result` member of the answer spliced
 * out as text — no JavaScript number in between.
 */
import { Agent, request, type IncomingMessage, type RequestOptions } from 'node:http';
import { WardenError, messageOf } from '../errors.js';
import { memberText } from '../engine/json-member.js';

/** Where OPA's API is: a unix socket path, or an http:// base URL. */
export type OpaAddress = { readonly socketPath: string } | { readonly url: string };

// Errors that mean "OPA is not there" (not started, restarting, gone).
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH']);
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const MAX_CACHED_PATHS = 1024;

/** A client for one OPA's data API. */
export class DecisionClient {
  readonly #agent = new Agent({ keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo' });
  readonly #urls = new Map<string, string>();
  readonly #target: { socketPath?: string; host?: string; port?: number; basePath: string };

  constructor(address: OpaAddress) {
    if ('socketPath' in address) this.#target = { socketPath: address.socketPath, basePath: '' };
    else {
      const u = new URL(address.url);
      if (u.protocol !== 'http:') throw new WardenError('USAGE', `OPA URL must be http://…, got ${address.url}`);
      this.#target = {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port || 80),
        basePath: u.pathname.replace(/\/+$/, ''),
      };
    }
  }

  /** The `result` text of POST /v1/data/<path> (undefined: OPA says undefined). */
  evaluate(path: string, inputJson: string | undefined, timeoutMs: number): Promise<string | undefined> {
    const body = inputJson === undefined ? '{}' : `{"input":${inputJson}}`;
    const url = this.#urlOf(path);
    const deadline = performance.now() + timeoutMs;
    return this.#post(url, body, timeoutMs).catch((err: unknown) => {
      if (!(err instanceof Retry)) throw err;
      // A keep-alive socket OPA closed just as it was reused: once more on a fresh one (decisions have no side effects).
      if (performance.now() >= deadline) throw err.error;
      return this.#post(url, body, deadline - performance.now()).catch((again: unknown) => {
        throw again instanceof Retry ? again.error : again;
      });
    });
  }

  // The request path of a data path, cached (a pack has few entrypoints; the cache is bounded).
  #urlOf(path: string): string {
    let url = this.#urls.get(path);
    if (url === undefined) {
      url = `${this.#target.basePath}/v1/data/${path.split('/').map(encodeURIComponent).join('/')}`;
      if (this.#urls.size >= MAX_CACHED_PATHS) this.#urls.clear();
      this.#urls.set(path, url);
    }
    return url;
  }

  /** GET <path> answers 200 (OPA's /health). */
  async healthy(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ ...this.#options('GET', `${this.#target.basePath}/health`) }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.setTimeout(timeoutMs, () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  /** Closes the idle keep-alive sockets. */
  close(): void {
    this.#agent.destroy();
  }

  #options(method: string, path: string): RequestOptions {
    const { socketPath, host, port } = this.#target;
    return {
      agent: this.#agent,
      method,
      path,
      ...(socketPath !== undefined ? { socketPath } : { host, port }),
    };
  }

  #post(url: string, body: string, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req = request(
        {
          ...this.#options('POST', url),
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) =>
          readAnswer(res, (err, text) =>
            finish(() => {
              if (err) reject(err);
              else settle(() => answerOf(res, text), resolve, reject);
            }),
          ),
      );
      const timer = setTimeout(() => {
        finish(() =>
          reject(
            new WardenError('OPA_DECISION_TIMEOUT', `OPA did not answer ${url} within ${Math.round(timeoutMs)} ms`, {
              details: { path: url, timeout_ms: Math.round(timeoutMs) },
            }),
          ),
        );
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? '';
        const unavailable = new WardenError('OPA_UNAVAILABLE', `OPA is not answering: ${messageOf(err)}`, {
          cause: err,
          details: { errno: code },
        });
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE'))
          finish(() => reject(new Retry(unavailable)));
        else if (UNAVAILABLE.has(code) || code === '') finish(() => reject(unavailable));
        else finish(() => reject(new WardenError('DECISION_FAILED', `OPA request failed: ${messageOf(err)}`)));
      });
      req.end(body);
    });
  }
}

// Resolves with what fn returns, or rejects with what it throws.
function settle<T>(fn: () => T, resolve: (v: T) => void, reject: (e: unknown) => void): void {
  try {
    resolve(fn());
  } catch (err) {
    reject(err);
  }
}

/** A failure on a reused keep-alive socket: retried once. */
class Retry extends Error {
  constructor(readonly error: WardenError) {
    super(error.message);
  }
}

// Collects the answer (bounded) as text.
function readAnswer(res: IncomingMessage, done: (err: WardenError | undefined, text: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_ANSWER_BYTES) chunks.push(c);
  });
  res.on('error', (err) =>
    done(new WardenError('OPA_UNAVAILABLE', `OPA's answer broke off: ${err.message}`, { cause: err }), ''),
  );
  res.on('end', () =>
    size > MAX_ANSWER_BYTES
      ? done(new WardenError('DECISION_FAILED', `OPA's answer is over ${MAX_ANSWER_BYTES} bytes`), '')
      : done(undefined, Buffer.concat(chunks).toString('utf8')),
  );
}

// 200: the result text; any other status: DECISION_FAILED with OPA's error body.
function answerOf(res: IncomingMessage, text: string): string | undefined {
  if (res.statusCode === 200) return memberText(text, 'result');
  let opa: unknown = text;
  try {
    opa = JSON.parse(text);
  } catch {
    // kept as text
  }
  const message = typeof opa === 'object' && opa !== null && 'message' in opa ? String(opa.message) : text;
  throw new WardenError('DECISION_FAILED', `OPA answered ${res.statusCode ?? 0}: ${message}`, {
    details: { status: res.statusCode, opa },
  });
}
