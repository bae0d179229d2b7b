/**
 * The `directory` source: a folder of raw Rego, typically a Kubernetes
 * ConfigMap mount. Kubernetes updates such a mount atomically: it writes a new
 * `..<timestamp>` folder, points `..data_tmp` at it, renames that over `..data`
 * and removes the old folder; the visible files are symlinks through `..data`.
 * So this source watches the folder, not files (a watch on a file dies at the
 * first swap), debounces bursts, reads a consistent snapshot through the
 * resolved `..data`, decides "changed" by content digest, and rescans slowly to
 * catch any missed event. Changed content is built into a pack in-process (the
 * same build as `warden pack build`) and handed to the same store → activate
 * path as every other source. Content refused for what it is (a compile, test
 * or golden failure, a bad spec: refused.ts) is not rebuilt until its digest
 * moves; each look that finds it unchanged is counted in
 * `policy_refused_unchanged_total`. A transient failure (opa missing or
 * crashing, the disk) is not remembered: the next look builds again.
 */
import { randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { WardenError, isContentError, toWardenError } from '../errors.js';
import { buildPack } from '../pack/build.js';
import type { LimitSettings } from '../pack/limits.js';
import { collectSources, sourcesDigest } from '../pack/sources.js';
import { PACK_SPEC_FILE, parsePackSpec, type PackSpec } from '../pack/spec.js';
import { skippedRefused } from './refused.js';
import type { FetchOnceOptions, PackSource, SourceContext, UpdateHandler, UpdateOutcome } from './types.js';

// What made the source look: a caller, an operator's forced reload, the watch, the rescan.
type Trigger = 'request' | 'forced' | 'watch' | 'rescan';

/** Where the folder is and how to build it. */
export interface DirectorySourceConfig {
  readonly path: string;
  /** Entrypoints and Rego version from the agent configuration, used when the folder has no warden.yaml. */
  readonly fallbackSpec?: PackSpec;
  readonly opaPath?: string;
  /** Quiet time after the last event before a build (a ConfigMap swap is several events). */
  readonly debounceMs: number;
  /** Full re-read interval, whatever the watch reported. */
  readonly rescanSeconds: number;
  /** The pack limits the folder and the pack built from it are held to (the agent's `limits:`), and their keys. */
  readonly limits?: LimitSettings;
}

/** A watched folder of Rego. */
export class DirectorySource implements PackSource {
  readonly kind = 'directory' as const;
  #built: string | undefined; // content digest of the last build handed over and not refused
  #refused: string | undefined; // content digest of the last content refused for what it is: not rebuilt until it changes
  #refusedError: WardenError | undefined; // why #refused was refused
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly config: DirectorySourceConfig,
    private readonly ctx: SourceContext,
  ) {}

  /** The agent passes the stored pack's tag; the folder is the truth, so the first look always rebuilds. */
  setActive(): void {}

  fetchOnce(handler: UpdateHandler, options: FetchOnceOptions = {}): Promise<UpdateOutcome | undefined> {
    return this.#queue(handler, options.force === true ? 'forced' : 'request');
  }

  // Serializes looks; `trigger` (what noticed the change) goes on the log line, to diagnose missed watch events.
  #queue(handler: UpdateHandler, trigger: Trigger): Promise<UpdateOutcome | undefined> {
    const run = this.#chain.then(() => {
      if (trigger === 'forced') this.#refused = undefined; // an operator's reload builds refused content again
      return this.#look(handler, trigger);
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  start(handler: UpdateHandler): void {
    this.#watch(handler);
    this.#rescan = setInterval(() => {
      if (!this.#watcher) this.#watch(handler); // the folder may be back
      this.#queue(handler, 'rescan').catch(() => undefined);
    }, this.config.rescanSeconds * 1000);
    this.#rescan.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#rescan);
    this.#watcher?.close();
    await this.#chain.catch(() => undefined);
  }

  // Watches the folder itself; every event restarts the debounce timer.
  #watch(handler: UpdateHandler): void {
    try {
      const self = basename(this.config.path);
      this.#watcher = watch(this.config.path, { persistent: false }, (_event, name) => {
        // The folder itself was removed or replaced (an event under its own name): on Linux the
        // watch then goes silent without an error, so drop it; the next look or rescan re-creates it.
        if (name === self) this.#unwatch();
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(
          () => void this.#queue(handler, 'watch').catch(() => undefined),
          this.config.debounceMs,
        );
      });
      this.#watcher.on('error', () => this.#unwatch()); // the rescan re-creates the watch
    } catch {
      this.#watcher = undefined;
    }
  }

  // Closes and forgets the watch.
  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  // Reads a snapshot, and builds and hands it over if its content changed.
  async #look(handler: UpdateHandler, trigger: Trigger): Promise<UpdateOutcome | undefined> {
    if (this.#stopped) return undefined;
    const correlationId = randomUUID();
    const log = this.ctx.log.child({ pack: this.ctx.pack, source: 'directory', correlation_id: correlationId });
    const started = process.hrtime.bigint();
    const ms = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const labels = { pack: this.ctx.pack, source: 'directory' };
    let snapshot: string;
    let sources;
    let specBytes: Buffer | undefined;
    try {
      snapshot = await this.#snapshotDir();
      if (this.#rescan && !this.#watcher && !this.#stopped) this.#watch(handler); // the folder is back: watch it again now
      sources = await collectSources(snapshot, this.config.limits).catch((err: unknown) => {
        const e = toWardenError(err);
        if (e.code === 'IO_FAILED') throw e; // vanished or unreadable: a fetch failure, below
        return e; // readable but unusable (emptied, too many files): a refused reload
      });
      specBytes = await readFile(join(snapshot, PACK_SPEC_FILE)).catch(() => undefined);
    } catch (err) {
      const e = toWardenError(err, 'FETCH_FAILED');
      this.ctx.metrics.fetchFailures.inc({ ...labels, code: e.code });
      this.ctx.metrics.fetchDuration.observe({ ...labels, result: 'error' }, ms() / 1000);
      log.warn(
        { code: e.code, err: e.message, path: this.config.path },
        'policy folder unreadable; keeping the active policy',
      );
      this.ctx.onFetchError(e);
      throw e;
    }
    if (sources instanceof WardenError) {
      const key = `unusable:${sources.message}`;
      if (key === this.#refused)
        return skippedRefused(
          this.ctx,
          'directory',
          { error: sources },
          { correlation_id: correlationId, path: this.config.path },
        );
      this.#refuse(sources, correlationId, key, undefined, ms());
      return { status: 'refused', error: sources };
    }
    const contentDigest = sourcesDigest(sources, specBytes);
    if (contentDigest === this.#built) {
      this.ctx.metrics.fetchDuration.observe({ ...labels, result: 'unchanged' }, ms() / 1000);
      this.ctx.onConfirmed();
      return undefined;
    }
    if (contentDigest === this.#refused && this.#refusedError) {
      this.ctx.metrics.fetchDuration.observe({ ...labels, result: 'unchanged' }, ms() / 1000);
      // Still the refused content: say why again (boot reports it), without a second log line.
      return skippedRefused(
        this.ctx,
        'directory',
        { error: this.#refusedError },
        { correlation_id: correlationId, content_sha256: contentDigest, path: this.config.path },
      );
    }
    log.info(
      { content_sha256: contentDigest, path: this.config.path, trigger, watching: this.#watcher !== undefined },
      'policy folder changed; building',
    );
    let built;
    try {
      // The spec read with the sources, not re-read: the kubelet may have removed this snapshot since.
      const spec = specBytes
        ? parsePackSpec(specBytes.toString('utf8'), join(this.config.path, PACK_SPEC_FILE))
        : this.config.fallbackSpec;
      built = await buildPack({
        dir: snapshot,
        sources,
        ...(spec ? { spec } : {}),
        packName: this.ctx.pack,
        ...(this.config.fallbackSpec ? { fallbackSpec: this.config.fallbackSpec } : {}),
        ...(this.config.opaPath ? { opaPath: this.config.opaPath } : {}),
        ...this.config.limits,
      });
    } catch (err) {
      const e = toWardenError(err);
      this.#refuse(e, correlationId, contentDigest, contentDigest, ms());
      return { status: 'refused', error: e };
    }
    // For a folder, obtaining the pack includes building it.
    this.ctx.metrics.fetchDuration.observe({ ...labels, result: 'changed' }, ms() / 1000);
    const outcome = await handler({
      pack: built.bytes,
      signature: undefined,
      etag: contentDigest,
      origin: this.config.path,
      correlationId,
    });
    if (outcome.status === 'refused') {
      this.#refused = isContentError(outcome.error) ? contentDigest : undefined;
      this.#refusedError = outcome.error;
    } else {
      this.#built = contentDigest;
      this.#refused = undefined;
      this.ctx.onConfirmed();
    }
    return outcome;
  }

  // Remembers content refused for what it is (not rebuilt until it changes) and reports every refusal to the activator.
  #refuse(
    e: WardenError,
    correlationId: string,
    key: string,
    contentDigest: string | undefined,
    durationMs: number,
  ): void {
    this.#refused = isContentError(e) ? key : undefined;
    this.#refusedError = e;
    this.ctx.onRefused?.(e, {
      correlationId,
      origin: this.config.path,
      ...(contentDigest ? { contentDigest } : {}),
      durationMs,
    });
  }

  // The folder to read: a ConfigMap's resolved `..data` (one consistent version), else the folder itself.
  async #snapshotDir(): Promise<string> {
    const root = await realpath(this.config.path);
    return realpath(join(root, '..data')).catch(() => root);
  }
}
