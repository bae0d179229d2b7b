/**
 * Boot of one pack: the store first, then the source. A verified pack in the
 * store serves at once and the source is asked once in the background (it
 * confirms the stored pack or delivers a newer one; file and directory sources
 * would otherwise only look again when something changes), waiting for that
 * answer at most `source_wait_seconds`; so a restarting pod is ready in the
 * time it takes to verify what it has, whatever the source does. With nothing stored the source must deliver: a few quick
 * retries (~2 s), then BOOT_NO_VALID_PACK (fail fast). Every wait here ends at
 * once when the boot is aborted (SIGTERM): BOOT_INTERRUPTED.
 */
import type { AgentConfig } from '../config/load.js';
import { WardenError, toWardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { PackRuntime } from './wiring.js';

/** How boot treats the sources. */
export interface BootOptions {
  /** With a stored pack: how long to wait for the source's first answer (0: not at all). */
  readonly sourceWaitMs: number;
  /** Aborted: every boot wait ends with BOOT_INTERRUPTED. */
  readonly signal?: AbortSignal | undefined;
}

/** Boot options from `boot:`; `signal` ends every wait. */
export function bootOptionsFrom(boot: AgentConfig['boot'], signal: AbortSignal | undefined): BootOptions {
  return { sourceWaitMs: boot.source_wait_seconds * 1000, signal };
}

/** Pauses between boot fetch attempts when the store had nothing: ~2 s in all, then BOOT_NO_VALID_PACK. */
const BOOT_RETRY_MS = [250, 500, 1000, 0];

/** Boots every pack in order; the `optional` ones may fail (bootOptionalPack). Throws BOOT_INTERRUPTED once aborted. */
export async function bootPacks(
  runtimes: readonly PackRuntime[],
  optional: ReadonlySet<string>,
  log: Logger,
  opts: BootOptions,
): Promise<void> {
  for (const r of runtimes) {
    throwIfInterrupted(opts.signal);
    if (optional.has(r.config.name)) await bootOptionalPack(r, log, opts);
    else await bootPack(r, log, opts);
  }
}

/** Runs `fn` once when `signal` aborts; returns the function that stops listening. */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  signal?.addEventListener('abort', fn, { once: true });
  return () => signal?.removeEventListener('abort', fn);
}

/** Activates the pack from the store, else from its source; throws BOOT_NO_VALID_PACK when neither has one. */
export async function bootPack(r: PackRuntime, log: Logger, opts: BootOptions): Promise<void> {
  const fromStore = await r.activator.boot();
  r.source.setActive(r.activator.current ? `"${r.activator.current.digest}"` : undefined);
  throwIfInterrupted(opts.signal);
  if (fromStore) {
    const asked = fetchNow(r); // never rejects; failures are logged and counted by the source and the activator
    if (opts.sourceWaitMs > 0) await answerWithin(asked, r, log, opts);
    return;
  }
  let fetchError: WardenError | undefined;
  // Fail fast, but not on one unlucky request: a server still starting or a publish in progress.
  for (const pause of BOOT_RETRY_MS) {
    fetchError = await fetchNow(r);
    throwIfInterrupted(opts.signal);
    if (!fetchError || r.activator.current) break;
    if (pause > 0) await sleep(pause, opts.signal);
  }
  if (r.activator.current) return;
  const why = fetchError ? `${fetchError.code}: ${fetchError.message}` : 'the source returned nothing';
  throw new WardenError(
    'BOOT_NO_VALID_PACK',
    `pack "${r.config.name}": no valid pack in the store and none from its source (${why})`,
    {
      ...(fetchError ? { cause: fetchError } : {}),
    },
  );
}

/** A pack the agent can run without (the kill-switch state): a boot failure is logged, and its defaults apply. */
export async function bootOptionalPack(r: PackRuntime, log: Logger, opts: BootOptions): Promise<void> {
  try {
    await bootPack(r, log, opts);
  } catch (err) {
    const e = toWardenError(err);
    if (e.code === 'BOOT_INTERRUPTED') throw e;
    log.warn(
      { pack: r.config.name, code: e.code, err: e.message },
      'no kill-switch state at boot: cold-start defaults apply (high-risk modules blocked, core open) until the source delivers one',
    );
  }
}

/** Throws BOOT_INTERRUPTED once `signal` is aborted. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new WardenError('BOOT_INTERRUPTED', 'the agent was asked to stop while it was starting');
}

// One fetch through the pipeline; the error that kept it from giving a pack, if any.
async function fetchNow(r: PackRuntime): Promise<WardenError | undefined> {
  try {
    const outcome = await r.source.fetchOnce((u) => r.activator.submit(u));
    return outcome?.status === 'refused' ? outcome.error : undefined;
  } catch (err) {
    return toWardenError(err);
  }
}

// Waits up to sourceWaitMs for the source's first answer; a slow one goes on in the background.
async function answerWithin(
  asked: Promise<WardenError | undefined>,
  r: PackRuntime,
  log: Logger,
  opts: BootOptions,
): Promise<void> {
  const answer = await Promise.race([asked, sleep(opts.sourceWaitMs, opts.signal).then(() => 'waited' as const)]);
  throwIfInterrupted(opts.signal);
  if (answer === 'waited')
    log.warn(
      { pack: r.config.name, waited_ms: opts.sourceWaitMs },
      'source did not answer within boot.source_wait_seconds; serving the stored pack',
    );
  else if (answer)
    log.warn(
      { pack: r.config.name, code: answer.code, err: answer.message },
      'source unavailable at boot; serving the stored pack (stale)',
    );
}

// Resolves after ms, or at once when signal aborts.
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
