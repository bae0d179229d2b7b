/**
 * One HTTP(S) GET of a pack or its signature, with node:http so that mTLS
 * material, the total deadline and the byte limit are under exact control.
 * Every failure is a coded WardenError; a response is never trusted to end,
 * to be small, or to say how big it is. Both requests can be conditional: the
 * `If-None-Match` header carries a list of entity tags (RFC 9110 13.1.2), e.g.
 * the active pack's and the refused one's.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { WardenError, messageOf } from '../errors.js';
import { CORRELATION_HEADER, injectTraceHeaders } from '../observe/tracing.js';
import { WARDEN_VERSION } from '../project.js';

/** mTLS material as file contents (the agent reads the files). */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** One request. */
export interface FetchOptions {
  readonly url: string;
  /** Entity tags sent as one `If-None-Match` list (none: an unconditional GET). */
  readonly ifNoneMatch?: readonly string[];
  /** > 0: long poll, sent as `Prefer: wait=N`; the deadline grows by N seconds. */
  readonly waitSeconds?: number;
  /** Deadline for connect + headers + body (plus the long-poll wait). */
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** The setting maxBytes comes from, named when a body is over it. */
  readonly maxBytesKey?: string;
  readonly tls?: TlsMaterial;
  /**
   * Sent as X-Correlation-Id and X-Request-Id, so server logs can be joined with ours; the
   * W3C `traceparent` of the active span goes along when the host registered an OpenTelemetry SDK.
   */
  readonly correlationId: string;
  /** Aborting fails the request with FETCH_FAILED and `details.aborted`. */
  readonly signal?: AbortSignal;
}

/** What a pack request returns. */
export type FetchResult =
  | { readonly status: 304; readonly etag?: string }
  | { readonly status: 200; readonly body: Buffer; readonly etag?: string };

/** Size limit of a signature bundle. */
export const SIGNATURE_MAX_BYTES = 1024 * 1024;

/** Conditional GET of a pack: 200 with the body, or 304 (only when tags were sent); anything else throws a FETCH_* error. */
export async function fetchPack(opts: FetchOptions): Promise<FetchResult> {
  const wait = opts.waitSeconds !== undefined && opts.waitSeconds > 0 ? Math.ceil(opts.waitSeconds) : 0;
  const headers: Record<string, string> = {
    'user-agent': `warden/${WARDEN_VERSION}`,
    [CORRELATION_HEADER]: opts.correlationId,
    'x-request-id': opts.correlationId,
    accept: '*/*',
    // The signature covers the exact bytes: no transfer compression.
    'accept-encoding': 'identity',
  };
  const tags = opts.ifNoneMatch ?? [];
  if (tags.length > 0) headers['if-none-match'] = tags.join(', ');
  if (wait > 0) headers.prefer = `wait=${wait}`;
  injectTraceHeaders(headers);
  return get(opts, headers, opts.timeoutMs + wait * 1000);
}

/** Where a pack's signature lives: the configured URL, else `<pack path>.sigstore.json`. */
export function signatureUrlFor(packUrl: string, configured?: string): string {
  if (configured !== undefined) return configured;
  const u = new URL(packUrl);
  u.pathname = `${u.pathname}.sigstore.json`;
  return u.toString();
}

/**
 * GET of a signature bundle (limit SIGNATURE_MAX_BYTES unless smaller), never held;
 * conditional when `ifNoneMatch` is given (the refused pack's signature ETag).
 * Any failure, or a 304 to an unconditional request, → SIGNATURE_FETCH_FAILED wrapping the cause.
 */
export async function fetchSignature(
  opts: Omit<FetchOptions, 'waitSeconds' | 'maxBytes'> & { readonly maxBytes?: number },
): Promise<FetchResult> {
  const maxBytes = Math.min(opts.maxBytes ?? SIGNATURE_MAX_BYTES, SIGNATURE_MAX_BYTES);
  try {
    const res = await fetchPack({ ...opts, maxBytes, waitSeconds: 0 });
    if (res.status === 200 || (opts.ifNoneMatch ?? []).length > 0) return res;
    throw unexpected304(opts.url);
  } catch (err) {
    const cause = err instanceof WardenError ? err : undefined;
    throw new WardenError('SIGNATURE_FETCH_FAILED', `cannot fetch the signature ${opts.url}: ${messageOf(err)}`, {
      cause: err,
      details: { url: opts.url, cause_code: cause?.code, ...cause?.details },
    });
  }
}

// Runs one GET under a total deadline and a byte limit; settles exactly once.
function get(opts: FetchOptions, headers: Record<string, string>, deadlineMs: number): Promise<FetchResult> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(opts.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new Error(`unsupported protocol ${url.protocol}`);
    } catch (err) {
      reject(
        new WardenError('FETCH_FAILED', `bad pack URL ${opts.url}: ${messageOf(err)}`, {
          cause: err,
          details: { url: opts.url },
        }),
      );
      return;
    }
    if (opts.signal?.aborted === true) {
      reject(aborted(opts.url));
      return;
    }
    let done = false;
    const settle = (err: WardenError | undefined, result?: FetchResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        req.destroy();
        reject(err);
      } else if (result !== undefined) resolve(result);
    };
    const onAbort = (): void => settle(aborted(opts.url));
    const timer = setTimeout(
      () =>
        settle(
          new WardenError('FETCH_TIMEOUT', `no complete answer from ${opts.url} within ${deadlineMs} ms`, {
            details: { url: opts.url, timeout_ms: deadlineMs },
          }),
        ),
      deadlineMs,
    );
    // A fresh connection per fetch (agent: false): a keep-alive socket the server
    // already closed can never turn into a spurious failure, and stop() leaves none behind.
    const options: RequestOptions = { method: 'GET', headers, agent: false };
    const tls = url.protocol === 'https:' ? { ca: opts.tls?.ca, cert: opts.tls?.cert, key: opts.tls?.key } : {};
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { ...options, ...tls });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      settle(
        new WardenError('FETCH_FAILED', `cannot fetch ${opts.url}: ${err.message}`, {
          cause: err,
          details: { url: opts.url, system_code: err.code },
        }),
      );
    });
    req.on('response', (res) => onResponse(res, opts, settle));
    req.end();
  });
}

// Checks status and size at the headers, then reads the body up to the limit.
function onResponse(
  res: IncomingMessage,
  opts: FetchOptions,
  settle: (err: WardenError | undefined, result?: FetchResult) => void,
): void {
  const status = res.statusCode ?? 0;
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
  const details = { url: opts.url, status };
  if (status === 304) {
    res.resume(); // a 304 has no body; let it finish on its own
    settle(undefined, etag === undefined ? { status: 304 } : { status: 304, etag });
    return;
  }
  if (status !== 200) {
    res.destroy();
    settle(new WardenError('FETCH_HTTP_STATUS', `${opts.url} answered HTTP ${status}`, { details }));
    return;
  }
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    res.destroy();
    settle(tooLarge(opts, { declared_bytes: declared }));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > opts.maxBytes) {
      res.destroy();
      settle(tooLarge(opts, { received_bytes: received }));
      return;
    }
    chunks.push(chunk);
  });
  res.on('end', () => {
    const body = Buffer.concat(chunks, received);
    settle(undefined, etag === undefined ? { status: 200, body } : { status: 200, body, etag });
  });
  // 'close' without 'end': the server cut the body short.
  const cut = (): void =>
    settle(
      new WardenError('FETCH_FAILED', `${opts.url} closed the connection before the body was complete`, {
        details: { ...details, received_bytes: received },
      }),
    );
  res.on('error', cut);
  res.on('close', cut);
}

/** A 304 to a request that sent no entity tag: the server is broken (or a cache in between is). */
export function unexpected304(url: string): WardenError {
  return new WardenError('FETCH_HTTP_STATUS', `unexpected HTTP 304 for ${url}: the request was not conditional`, {
    details: { status: 304, url },
  });
}

function tooLarge(opts: FetchOptions, extra: { declared_bytes: number } | { received_bytes: number }): WardenError {
  const declared = 'declared_bytes' in extra;
  const actual = declared ? extra.declared_bytes : extra.received_bytes;
  return fetchTooLarge(`${opts.url}: the response body`, actual, opts.maxBytes, opts.maxBytesKey, {
    atLeast: !declared,
    details: { url: opts.url, limit_bytes: opts.maxBytes, ...extra },
  });
}

/**
 * FETCH_TOO_LARGE for `what` (a file, a URL's body) of `actual` bytes over `limit`; `key`
 * (the setting that raises the limit) is named in the message, `details.key` and the hint.
 */
export function fetchTooLarge(
  what: string,
  actual: number,
  limit: number,
  key: string | undefined,
  more: { atLeast?: boolean; details?: Record<string, unknown> } = {},
): WardenError {
  const amount = more.atLeast ? `more than ${limit} bytes` : `${actual} bytes`;
  const setting = key === undefined ? `${limit}` : `${key}: ${limit}`;
  return new WardenError('FETCH_TOO_LARGE', `${what} is ${amount}, over the limit (${setting})`, {
    details: { ...more.details, limit, actual, ...(key === undefined ? {} : { key }) },
    ...(key === undefined
      ? {}
      : {
          hint: `if a pack this large is expected, set ${key} in the agent configuration to ${more.atLeast ? 'a larger value' : `at least ${actual}`} (now ${limit})`,
        }),
  });
}

function aborted(url: string): WardenError {
  return new WardenError('FETCH_FAILED', `fetch of ${url} aborted: the source is stopping`, {
    details: { url, aborted: true },
  });
}
