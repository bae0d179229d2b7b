/**
 * The `file` source: a pack and its signature on local disk, re-read when
 * either changes. Changes are noticed by a watch on the folder (fast) and a
 * stat poll (catches what a watch misses); content is compared by digest.
 * The stat key only moves on a write, but a write need not change the content
 * (a deploy tool copying the same files again, a touch): a pair refused for its
 * content (refused.ts) is not handed over again while both digests are the
 * same; such a look is counted in `policy_refused_unchanged_total`.
 */
import { randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { WardenError, messageOf, toWardenError } from '../errors.js';
import { ATTR, inSpan } from '../observe/tracing.js';
import { sha256Digest } from '../verify/digest.js';
import { fetchTooLarge } from './http-fetch.js';
import { isRefusedPair, rememberRefusal, skippedRefused, type RefusedPack } from './refused.js';
import type { FetchOnceOptions, PackSource, SourceContext, UpdateHandler, UpdateOutcome } from './types.js';

/** Where the pack is and how often to look. */
export interface FileSourceConfig {
  readonly path: string;
  readonly signaturePath?: string;
  readonly pollSeconds: number;
  readonly maxBytes: number;
  /** The setting maxBytes comes from, named when a pack is over it (the agent: limits.max_pack_bytes). */
  readonly maxBytesKey?: string;
}

/** A pack on disk. */
export class FileSource implements PackSource {
  readonly kind = 'file' as const;
  #active: string | undefined;
  #refused: RefusedPack | undefined;
  #statKey = '';
  #timer: NodeJS.Timeout | undefined;
  #watcher: FSWatcher | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly ctx: SourceContext,
  ) {}

  setActive(etag: string | undefined): void {
    this.#active = etag;
  }

  /** One read in a `warden.fetch` span (the parent of the reload it triggers). */
  fetchOnce(handler: UpdateHandler, options: FetchOnceOptions = {}): Promise<UpdateOutcome | undefined> {
    const correlationId = randomUUID();
    const attributes = {
      [ATTR.pack]: this.ctx.pack,
      [ATTR.source]: 'file',
      [ATTR.correlationId]: correlationId,
    };
    return inSpan('warden.fetch', attributes, async (span) => {
      const outcome = await this.#fetchOnce(handler, options, correlationId);
      span.setAttribute(ATTR.outcome, outcome?.status ?? 'not_modified');
      return outcome;
    });
  }

  async #fetchOnce(
    handler: UpdateHandler,
    options: FetchOnceOptions,
    correlationId: string,
  ): Promise<UpdateOutcome | undefined> {
    if (options.force === true) this.#refused = undefined;
    const log = this.ctx.log.child({ pack: this.ctx.pack, correlation_id: correlationId, source: 'file' });
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const [pack, signature] = await Promise.all([this.#read(this.config.path), this.#readSignature()]);
      const digest = sha256Digest(pack);
      // Same tag form as the HTTP source (the quoted digest, docs/design.md#the-pack-server-protocol), so setActive works for both.
      const etag = `"${digest}"`;
      if (etag === this.#active) {
        this.ctx.metrics.fetchDuration.observe({ pack: this.ctx.pack, source: 'file', result: 'unchanged' }, seconds());
        this.#refused = undefined;
        this.ctx.onConfirmed();
        return undefined;
      }
      if (isRefusedPair(this.#refused, pack, signature)) {
        this.ctx.metrics.fetchDuration.observe({ pack: this.ctx.pack, source: 'file', result: 'unchanged' }, seconds());
        return skippedRefused(this.ctx, 'file', this.#refused, {
          correlation_id: correlationId,
          digest,
          path: this.config.path,
        });
      }
      this.ctx.metrics.fetchDuration.observe({ pack: this.ctx.pack, source: 'file', result: 'changed' }, seconds());
      log.info({ digest, path: this.config.path }, 'policy pack changed on disk');
      const outcome = await handler({ pack, signature, etag, origin: this.config.path, correlationId });
      this.#refused = rememberRefusal(outcome, { pack, signature });
      if (outcome.status !== 'refused') {
        this.#active = etag;
        this.ctx.onConfirmed();
      }
      return outcome;
    } catch (err) {
      const e = toWardenError(err, 'FETCH_FAILED');
      this.ctx.metrics.fetchDuration.observe({ pack: this.ctx.pack, source: 'file', result: 'error' }, seconds());
      this.ctx.metrics.fetchFailures.inc({ pack: this.ctx.pack, source: 'file', code: e.code });
      log.warn({ code: e.code, err: e.message }, 'policy fetch failed');
      this.ctx.onFetchError(e);
      throw e;
    }
  }

  start(handler: UpdateHandler): void {
    // Checks the stat key and fetches when it moved; errors are already logged and counted.
    const check = (): void => {
      this.#running = this.#running.then(async () => {
        if (this.#stopped) return;
        const key = await this.#currentStatKey();
        if (key === this.#statKey) return;
        this.#statKey = key;
        await this.fetchOnce(handler).catch(() => undefined);
      });
    };
    try {
      this.#watcher = watch(dirname(this.config.path), { persistent: false }, (_event, name) => {
        const names = [
          basename(this.config.path),
          this.config.signaturePath
            ? basename(this.config.signaturePath)
            : `${basename(this.config.path)}.sigstore.json`,
        ];
        if (name === null || names.includes(name.toString())) check();
      });
      this.#watcher.on('error', () => undefined); // the poll below keeps working without the watch
    } catch {
      this.#watcher = undefined;
    }
    this.#timer = setInterval(check, this.config.pollSeconds * 1000);
    this.#timer.unref();
    void this.#currentStatKey().then((k) => (this.#statKey = k));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#watcher?.close();
    await this.#running.catch(() => undefined);
  }

  // Size, mtime and inode of the pack and its signature: moves on any replace or edit.
  async #currentStatKey(): Promise<string> {
    const parts = await Promise.all(
      [this.config.path, this.config.signaturePath ?? `${this.config.path}.sigstore.json`].map((p) =>
        stat(p).then(
          (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
          () => 'missing',
        ),
      ),
    );
    return parts.join('|');
  }

  // Reads a file with the size limit; a missing file is a fetch failure.
  async #read(path: string): Promise<Buffer> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new WardenError('FETCH_FAILED', `cannot read ${path}: ${messageOf(err)}`, { cause: err });
    }
    if (size > this.config.maxBytes) throw fetchTooLarge(path, size, this.config.maxBytes, this.config.maxBytesKey);
    return readFile(path);
  }

  // Reads the signature beside the pack; absent → undefined (the verify stage refuses unsigned packs).
  async #readSignature(): Promise<Buffer | undefined> {
    const path = this.config.signaturePath ?? `${this.config.path}.sigstore.json`;
    try {
      return await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WardenError('SIGNATURE_FETCH_FAILED', `cannot read ${path}: ${messageOf(err)}`, { cause: err });
    }
  }
}
