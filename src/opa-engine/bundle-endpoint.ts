/**
 * Warden's loopback endpoint for OPA: `GET /bundles/<pack>` serves the bundle
 * Warden chose for a pack with OPA's long polling (`Prefer: wait=N`,
 * `If-None-Match`/`ETag`, answers typed `application/vnd.openpolicyagent.bundles`),
 * and `POST /status` takes OPA's status uploads. Both need the bearer token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WardenError, messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { noneMatch, preferredWait } from '../pack-server/pack-routes.js';
import { parseStatusReport, type StatusReport } from './status-report.js';

/** The bundle served for one pack. */
export interface ServedBundle {
  readonly bytes: Buffer;
  /** Quoted, unique per delivery. */
  readonly etag: string;
  readonly revision: string;
}

/**
 * Events: `served` (pack, etag, since) when a bundle's bytes go to OPA, where `since` is the
 * wall-clock ms of the endpoint's previous answer for that pack (OPA sent this request after
 * it, so reports about earlier requests are older); `status` (report).
 */
export interface BundleEndpointEvents {
  served: [pack: string, etag: string, since: number];
  status: [report: StatusReport];
}

const BUNDLE_TYPE = 'application/vnd.openpolicyagent.bundles';
const MAX_WAIT_SECONDS = 300;
const MAX_STATUS_BYTES = 4 * 1024 * 1024;

/** The endpoint's HTTP server and the bundle each pack serves. */
export class BundleEndpoint extends EventEmitter<BundleEndpointEvents> {
  readonly #server: Server;
  readonly #tokenDigest: Buffer;
  readonly #bundles = new Map<string, ServedBundle>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #packs: ReadonlySet<string>;
  readonly #answeredAt = new Map<string, number>();
  // Before this, OPA's requests could not reach the endpoint (an OPA started first reports failed downloads).
  #listeningSince = 0;
  readonly #logger: Logger;

  constructor(opts: { readonly token: string; readonly packs: readonly string[]; readonly logger: Logger }) {
    super();
    this.#tokenDigest = digest(`Bearer ${opts.token}`);
    this.#packs = new Set(opts.packs);
    this.#logger = opts.logger;
    this.#server = createServer((req, res) => this.#route(req, res));
    this.#server.keepAliveTimeout = (MAX_WAIT_SECONDS + 5) * 1000;
  }

  /** Listens on host:port; resolves with the base URL OPA's service must name. */
  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(new WardenError('LISTEN_FAILED', `OPA bundle endpoint ${host}:${port}: ${err.message}`, { cause: err }));
      this.#server.once('error', onError);
      this.#listeningSince = wallClockMs();
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        const a = this.#server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      });
    });
  }

  /** The bundle served for `pack` now. */
  current(pack: string): ServedBundle | undefined {
    return this.#bundles.get(pack);
  }

  /** Serves `bundle` for `pack` from now on (undefined: nothing) and answers the requests held for it. */
  set(pack: string, bundle: ServedBundle | undefined): void {
    if (bundle === undefined) this.#bundles.delete(pack);
    else this.#bundles.set(pack, bundle);
    for (const wake of [...(this.#waiters.get(pack) ?? [])]) wake();
  }

  /** Stops listening; held requests are answered 304 (OPA sees "no change"). */
  async close(): Promise<void> {
    for (const set of [...this.#waiters.values()]) for (const wake of [...set]) wake();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    if (!this.#authorized(req.headers.authorization)) {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"unauthorized"}');
      return;
    }
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const bundle = /^\/bundles\/([A-Za-z0-9._-]+)$/.exec(path);
    if (req.method === 'GET' && bundle?.[1] !== undefined && this.#packs.has(bundle[1])) {
      this.#serveBundle(req, res, bundle[1]);
    } else if (req.method === 'POST' && /^\/status(\/[A-Za-z0-9._-]+)?$/.test(path)) {
      this.#takeStatus(req, res);
    } else {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"not_found"}');
    }
  }

  #authorized(header: string | undefined): boolean {
    return header !== undefined && timingSafeEqual(digest(header), this.#tokenDigest);
  }

  // Answers at once when OPA lacks the current bundle, else holds the request until a delivery or the wait ends.
  #serveBundle(req: IncomingMessage, res: ServerResponse, pack: string): void {
    req.resume();
    const answer = (): void => {
      const since = this.#answeredAt.get(pack) ?? this.#listeningSince;
      this.#answeredAt.set(pack, wallClockMs());
      const current = this.#bundles.get(pack);
      if (current === undefined || noneMatch(req.headers['if-none-match'], current.etag)) {
        res.writeHead(304, { 'content-type': BUNDLE_TYPE, ...(current ? { etag: current.etag } : {}) }).end();
        return;
      }
      res.writeHead(200, {
        'content-type': BUNDLE_TYPE,
        etag: current.etag,
        'content-length': current.bytes.length,
      });
      // Marked served before the bytes go out: OPA's status about them can only come after.
      this.emit('served', pack, current.etag, since);
      res.end(current.bytes);
    };
    const current = this.#bundles.get(pack);
    const unchanged = current === undefined || noneMatch(req.headers['if-none-match'], current.etag);
    const wait = unchanged ? preferredWait(req.headers.prefer, MAX_WAIT_SECONDS) : 0;
    if (wait === 0) {
      answer();
      return;
    }
    const set = this.#waiters.get(pack) ?? new Set<() => void>();
    this.#waiters.set(pack, set);
    let done = false;
    const wake = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      set.delete(wake);
      if (!res.destroyed) answer();
    };
    const timer = setTimeout(wake, wait * 1000);
    set.add(wake);
    res.once('close', () => {
      done = true;
      clearTimeout(timer);
      set.delete(wake);
    });
  }

  #takeStatus(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_STATUS_BYTES) chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      res.writeHead(size <= MAX_STATUS_BYTES ? 200 : 413).end();
      if (size > MAX_STATUS_BYTES) return;
      const report = parseStatusReport(Buffer.concat(chunks).toString('utf8'));
      if (report === undefined) {
        this.#logger.debug({ size }, 'OPA status upload is not a JSON object; ignored');
        return;
      }
      try {
        this.emit('status', report);
      } catch (err) {
        this.#logger.warn({ err: messageOf(err) }, 'OPA status handler failed');
      }
    });
  }
}

// Wall-clock ms with the sub-millisecond part (OPA's timestamps have nanoseconds).
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
