/**
 * The reference pack server (docs/design.md#the-pack-server-protocol), behind `warden pack serve`: serves the
 * packs of one folder with ETag = quoted sha256 digest, 304 on If-None-Match,
 * and OPA-style long polling (`If-None-Match` + `Prefer: wait=N`). URL naming
 * is in pack-routes.ts, the folder watching and digest cache in pack-index.ts.
 *
 * Publishing is renaming a complete file over the old one: the signature
 * (`NAME.tar.gz.sigstore.json`) first, then the pack, so a client woken by the
 * new pack finds the matching signature.
 *
 * `If-None-Match` may be a list (an agent sends its active pack's ETag and the
 * one it refused) or `*`; every 304 carries the ETag that matched, so the client
 * can tell which of its versions is still served. A held request whose file
 * changes to a version the client listed is answered 304 too, not with bytes
 * it already has. Each request's log line has the If-None-Match it sent, and
 * the agent's correlation id (`X-Correlation-Id`, else `X-Request-Id`) and W3C
 * `traceparent` when it sent them, so a fetch is found on both sides.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIPv6, type AddressInfo } from 'node:net';
import { WardenError, httpStatusOf, messageOf, toWardenError, type ErrorCode } from '../errors.js';
import { LongPolls, type WaitEnd } from './long-poll.js';
import { PackIndex, type LogFn, type ServedFile } from './pack-index.js';
import { contentTypeOf, fileForPath, noneMatch, preferredWait } from './pack-routes.js';

export { PACKS_PREFIX } from './pack-routes.js';

/** Options of startPackServer. */
export interface PackServerOptions {
  /** The folder whose `NAME.tar.gz` files are served. */
  readonly dir: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Longest a long poll is held, whatever the client asks (default 60). */
  readonly maxWaitSeconds?: number;
  /** Files over this size are logged and not served (default MAX_SERVED_BYTES). */
  readonly maxBytes?: number;
  /** Receives one JSON-able object per request, and folder problems. */
  readonly log?: LogFn;
}

/** A running pack server. */
export interface PackServer {
  /** Base URL, e.g. `http://127.0.0.1:8282` (packs are under `/v1/policy/packs/`). */
  readonly url: string;
  readonly port: number;
  /** How many long polls are held now (for tests and metrics). */
  waiting(): number;
  /** Answers held long polls with 304, stops accepting, waits for requests in flight. */
  close(): Promise<void>;
}

const DEFAULT_MAX_WAIT_SECONDS = 60;
// After close(), connections still busy this long are cut.
const CLOSE_GRACE_MS = 5000;

/** Starts serving `dir`; throws IO_FAILED when the folder cannot be read, LISTEN_FAILED when the address cannot be bound. */
export async function startPackServer(opts: PackServerOptions): Promise<PackServer> {
  const log = opts.log ?? (() => undefined);
  const maxWait = opts.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS;
  const index = await PackIndex.open({
    dir: opts.dir,
    log,
    ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }),
  });
  const polls = new LongPolls();
  index.onChange((name, file) => polls.release(name, file));
  const server = createServer((req, res) => handle(req, res, { index, polls, maxWait, log }));
  try {
    await listen(server, opts.host, opts.port);
  } catch (err) {
    await index.close();
    throw new WardenError(
      'LISTEN_FAILED',
      `cannot listen on ${hostForUrl(opts.host)}:${opts.port}: ${messageOf(err)}`,
      { cause: err },
    );
  }
  server.on('error', (err) => log({ code: 'IO_FAILED', err: err.message }, 'pack server error'));
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl(opts.host)}:${port}`,
    port,
    waiting: () => polls.size,
    close: () => (closing ??= shutdown(server, index, polls)),
  };
}

interface Context {
  readonly index: PackIndex;
  readonly polls: LongPolls;
  readonly maxWait: number;
  readonly log: LogFn;
}

// One request: route, conditional check, maybe hold; never throws.
function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): void {
  const started = performance.now();
  let cancelWait: (() => void) | undefined;
  res.on('close', () => {
    cancelWait?.();
    const status = res.headersSent ? res.statusCode : undefined;
    const inm = req.headers['if-none-match'];
    const entry = {
      method: req.method,
      path: (req.url ?? '').slice(0, 300),
      status,
      duration_ms: Math.round(performance.now() - started),
      ...(inm === undefined ? {} : { if_none_match: inm.slice(0, 300) }),
      ...traceFields(req),
    };
    // aborted: the client went away first (typically during a long poll).
    ctx.log(res.writableFinished ? entry : { ...entry, aborted: true }, 'pack request');
  });
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendError(res, 405, 'USAGE', `method ${req.method ?? '?'} not allowed; use GET or HEAD`);
    }
    const name = fileForPath(req.url ?? '');
    const file = name === undefined ? undefined : ctx.index.get(name);
    if (name === undefined || file === undefined) return notFound(res, req.url ?? '');
    if (!noneMatch(req.headers['if-none-match'], file.etag)) return sendFile(req, res, file);
    const wait = preferredWait(req.headers.prefer, ctx.maxWait);
    if (wait === 0) return notModified(res, file.etag);
    cancelWait = ctx.polls.hold(name, wait * 1000, (how) => endWait(req, res, how, file.etag));
  } catch (err) {
    const e = toWardenError(err);
    ctx.log({ code: e.code, err: e.message }, 'pack request failed');
    if (res.headersSent) res.destroy();
    else sendError(res, 500, e.code, 'internal error');
  }
}

// Answers a held request: the new version (304 if the client listed it), 404 if it went away, 304 when the wait elapsed.
function endWait(req: IncomingMessage, res: ServerResponse, how: WaitEnd, etag: string): void {
  if (how.kind === 'cancelled' || res.writableEnded || res.destroyed) return;
  if (how.kind === 'timeout') return notModified(res, etag);
  if (how.file === undefined) return notFound(res, req.url ?? '');
  if (noneMatch(req.headers['if-none-match'], how.file.etag)) return notModified(res, how.file.etag);
  sendFile(req, res, how.file);
}

// 200 with the exact bytes of the version whose ETag is sent.
function sendFile(req: IncomingMessage, res: ServerResponse, file: ServedFile): void {
  res.writeHead(200, {
    'Content-Type': contentTypeOf(file.name),
    'Content-Length': file.bytes.length,
    ETag: file.etag,
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : file.bytes);
}

function notModified(res: ServerResponse, etag: string): void {
  res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-cache' });
  res.end();
}

function notFound(res: ServerResponse, url: string): void {
  sendError(res, httpStatusOf('PACK_NOT_FOUND'), 'PACK_NOT_FOUND', `no pack at ${url.slice(0, 300)}`);
}

// A coded JSON error body (errors become data at the boundary).
function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify(new WardenError(code, message).toJSON());
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
  });
  res.end(body);
}

// Binds, rejecting with the listen error (EADDRINUSE, EACCES, bad host).
function listen(server: ReturnType<typeof createServer>, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

// Stops watching, answers held polls, then closes the listener and idle connections.
async function shutdown(server: ReturnType<typeof createServer>, index: PackIndex, polls: LongPolls): Promise<void> {
  await index.close();
  polls.releaseAll();
  const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  cut.unref();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  clearTimeout(cut);
}

// The request's correlation id and trace context, for its log line (bounded: they come from the client).
function traceFields(req: IncomingMessage): { correlation_id?: string; traceparent?: string } {
  const one = (v: string | string[] | undefined): string | undefined =>
    (Array.isArray(v) ? v.join(',') : v)?.slice(0, 200);
  const correlation = one(req.headers['x-correlation-id']) ?? one(req.headers['x-request-id']);
  const traceparent = one(req.headers.traceparent);
  return {
    ...(correlation === undefined ? {} : { correlation_id: correlation }),
    ...(traceparent === undefined ? {} : { traceparent }),
  };
}

// IPv6 literals go in brackets in a URL.
function hostForUrl(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}
