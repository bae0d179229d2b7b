/**
 * Keeps a RevocationList current from Redis, in the background, so the
 * request path never waits on Redis (docs/architecture.md#token-revocation):
 *   - a full read (revocation-keys.ts) once connected, every `refreshMs`, and
 *     again whenever the subscriber (re)connects (notices may have been missed);
 *   - a subscription to the revocation channel: a notice adds its value at
 *     once and asks for a full read (coalesced: one at a time, one queued);
 *   - while Redis is down the last list stays; reads fail fast (no offline
 *     queue, a time limit) and count `governance_revocation_refresh_failures_total`;
 *     `governance_revocation_stale` turns 1 exactly when the list passes
 *     `staleAfterMs`, and the list's `onStale` decides what requests get.
 * Connecting never blocks the start: a cold start with Redis down runs stale
 * from the first request (fail_closed refuses, fail_open accepts) until the first read.
 */
import { readFile } from 'node:fs/promises';
import type { JWTPayload } from 'jose';
import type { Registry } from 'prom-client';
import { createClient, type RedisClientType } from 'redis';
import { WardenError, messageOf } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { counter, gauge } from '../../observe/register.js';
import { parseNotice, readRevoked, revokedChannel } from './revocation-keys.js';
import {
  REVOKED_KINDS,
  RevocationList,
  type OnStale,
  type RevocationAnswer,
  type RevocationCheck,
} from './revocation-list.js';

export interface RedisRevocationOptions {
  /** redis://host:port[/db] or rediss:// (TLS). */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM of the CA that signs the server's certificate (rediss://). */
  readonly ca?: string | undefined;
  readonly keyPrefix: string;
  readonly refreshMs: number;
  readonly staleAfterMs: number;
  readonly onStale: OnStale;
  readonly registry?: Registry | undefined;
  readonly log?: Logger | undefined;
  /** The clock, in ms. Default Date.now. */
  readonly now?: () => number;
}

/** What /healthz and tests read. */
export interface RevocationStatus {
  readonly stale: boolean;
  readonly loaded_at: string | null;
  readonly jti: number;
  readonly sid: number;
  readonly refresh_failures: number;
}

/** A revocation check fed from Redis. Call start() once, close() at the end. */
export class RedisRevocation implements RevocationCheck {
  readonly list: RevocationList;
  readonly #o: RedisRevocationOptions;
  readonly #client: RedisClientType;
  readonly #subscriber: RedisClientType;
  readonly #now: () => number;
  readonly #metrics;
  #timer: NodeJS.Timeout | undefined;
  #staleTimer: NodeJS.Timeout | undefined;
  #inFlight: Promise<boolean> | undefined;
  #again = false;
  #failures = 0;
  #failing = false;
  #closed = false;
  #loaded: { promise: Promise<void>; resolve: () => void };

  constructor(options: RedisRevocationOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.list = new RevocationList({ staleAfterMs: options.staleAfterMs, onStale: options.onStale, now: this.#now });
    const url = new URL(options.url);
    const tls = url.protocol === 'rediss:';
    this.#client = createClient({
      url: options.url,
      username: options.username,
      password: options.password,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: Math.min(5_000, Math.max(options.refreshMs, 500)),
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2_000),
        ...(tls ? { tls: true as const, ...(options.ca === undefined ? {} : { ca: options.ca }) } : {}),
      },
    });
    this.#subscriber = this.#client.duplicate();
    const registry = options.registry;
    this.#metrics = {
      lastRefresh: gauge(registry, 'governance_revocation_last_refresh_timestamp_seconds'),
      stale: gauge(registry, 'governance_revocation_stale'),
      failures: counter(registry, 'governance_revocation_refresh_failures_total'),
      entries: gauge(registry, 'governance_revocation_entries'),
    };
    this.#metrics.lastRefresh.set(0);
    this.#metrics.stale.set(1);
    this.#metrics.failures.inc(0);
    for (const kind of REVOKED_KINDS) this.#metrics.entries.set({ kind }, 0);
    let resolve = (): void => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.#loaded = { promise, resolve };
  }

  check(claims: JWTPayload): RevocationAnswer {
    return this.list.check(claims);
  }

  /** Connects in the background and starts the periodic full read; returns at once. */
  start(): void {
    const onError = (err: unknown): void => this.#fail(err); // node-redis emits one per failed (re)connect
    this.#client.on('error', onError);
    this.#subscriber.on('error', onError);
    this.#client.on('ready', () => void this.refresh());
    // Resubscribed: notices may have been missed (the client's own 'ready' reads when it connects later).
    this.#subscriber.on('ready', () => {
      if (this.#client.isReady) void this.refresh();
    });
    this.#client.connect().catch(onError);
    this.#subscriber
      .connect()
      .then(() => this.#subscriber.subscribe(revokedChannel(this.#o.keyPrefix), (message) => this.#notice(message)))
      .catch(onError);
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs);
    this.#timer.unref();
    this.#armStaleTimer();
  }

  /** Resolves after the first full read that succeeded. */
  loaded(): Promise<void> {
    return this.#loaded.promise;
  }

  /**
   * Reads the whole list now; resolves true if it succeeded. One read at a
   * time: a call during a read queues one more after it (a notice may be newer than the read).
   */
  refresh(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#inFlight) {
      this.#again = true;
      return this.#inFlight;
    }
    this.#inFlight = this.#read().finally(() => {
      this.#inFlight = undefined;
      if (this.#again) {
        this.#again = false;
        void this.refresh();
      }
    });
    return this.#inFlight;
  }

  status(): RevocationStatus {
    const at = this.list.loadedAt;
    return {
      stale: this.list.stale,
      loaded_at: at === undefined ? null : new Date(at).toISOString(),
      jti: this.list.size('jti'),
      sid: this.list.size('sid'),
      refresh_failures: this.#failures,
    };
  }

  /** Stops the timers and disconnects. */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#staleTimer);
    for (const c of [this.#client, this.#subscriber]) {
      try {
        c.destroy();
      } catch {
        // already closed
      }
    }
    return Promise.resolve();
  }

  async #read(): Promise<boolean> {
    if (!this.#client.isReady) {
      this.#fail(new Error('not connected to Redis'));
      return false;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer within 5 s')), 5_000);
      });
      const values = await Promise.race([readRevoked(this.#client, this.#o.keyPrefix, this.#now() / 1000), limit]);
      this.list.replace(values);
    } catch (err) {
      this.#fail(err);
      return false;
    } finally {
      clearTimeout(timer);
    }
    const m = this.#metrics;
    m.lastRefresh.set(Math.floor((this.list.loadedAt ?? 0) / 1000));
    m.stale.set(0);
    for (const kind of REVOKED_KINDS) m.entries.set({ kind }, this.list.size(kind));
    this.#armStaleTimer();
    if (this.#failing) {
      this.#failing = false;
      this.#o.log?.info({ jti: this.list.size('jti'), sid: this.list.size('sid') }, 'revocation list read again');
    }
    this.#loaded.resolve();
    return true;
  }

  // A failed read or connection: counted; logged once per outage.
  #fail(err: unknown): void {
    if (this.#closed) return;
    this.#failures++;
    this.#metrics.failures.inc();
    this.#metrics.stale.set(this.list.stale ? 1 : 0);
    if (this.#failing) return;
    this.#failing = true;
    const e = new WardenError('REVOCATION_UNAVAILABLE', `revocation list: ${messageOf(err)}`);
    this.#o.log?.warn(
      { code: e.code, err: e.message, on_stale: this.#o.onStale, stale: this.list.stale },
      'revocation list not read from Redis; the last known list stays',
    );
  }

  // Sets the stale gauge when the list passes staleAfterMs (re-armed by every good read).
  #armStaleTimer(): void {
    clearTimeout(this.#staleTimer);
    const at = this.list.loadedAt;
    if (at === undefined || this.#closed) return;
    this.#staleTimer = setTimeout(
      () => {
        if (!this.list.stale) return this.#armStaleTimer();
        this.#metrics.stale.set(1);
        this.#o.log?.error(
          { code: 'REVOCATION_UNAVAILABLE', on_stale: this.#o.onStale, loaded_at: new Date(at).toISOString() },
          this.#o.onStale === 'fail_closed'
            ? 'revocation list is stale: refusing tokens (on_stale fail_closed)'
            : 'revocation list is stale: accepting tokens not on the last known list (on_stale fail_open)',
        );
      },
      Math.max(0, at + this.#o.staleAfterMs - this.#now()) + 1,
    );
    this.#staleTimer.unref();
  }

  #notice(message: string): void {
    const notice = parseNotice(message);
    if (notice) this.list.add(notice.kind, notice.value);
    void this.refresh();
  }
}

/** Reads a credential file (username_file, password_file, ca_file), trimmed of a final newline. */
export async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `governance.tenants.revocation.${what}: ${messageOf(err)}`, {
      cause: err,
    });
  }
}
