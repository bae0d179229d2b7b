/**
 * A key source backed by a JWKS file: read once at start (a bad file fails the
 * start), re-read when the file changes (its folder is watched, so atomic
 * rename-into-place is seen), and re-read on an unknown kid at most once per
 * cooldown. A re-read that fails keeps the last good keys. Verifying a token
 * does no I/O unless its kid is unknown. A re-read that changes the keys tells
 * the onChange listeners which kids changed (the validator drops their cached tokens).
 */
import { watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createLocalJWKSet, errors } from 'jose';
import { WardenError, messageOf } from '../../errors.js';
import { JwksListeners } from './jwks-diff.js';
import { MAX_JWKS_BYTES, parseJwks, type JwksSource } from './jwks.js';

export interface JwksFileOptions {
  /** Re-read the file when it changes. Default true. */
  watch?: boolean;
  /** Least time between re-reads caused by an unknown kid. Default 30 s. */
  refreshCooldownMs?: number;
}

/** What the file source has done, for health answers and tests. */
export interface JwksFileStats {
  /** Successful reads, the first one included. */
  loads: number;
  /** Re-reads that failed (the previous keys stayed). */
  failures: number;
  lastError?: string;
}

export interface JwksFileSource extends JwksSource {
  stats(): JwksFileStats;
  /** Re-reads the file now; resolves false (keeping the old keys) if it is unusable. */
  reload(): Promise<boolean>;
}

/** Reads the JWKS at `path` and returns a source over it; rejects with JWKS_UNAVAILABLE if unusable. */
export async function jwksFromFile(path: string, options: JwksFileOptions = {}): Promise<JwksFileSource> {
  const file = resolve(path);
  const cooldownMs = options.refreshCooldownMs ?? 30_000;
  const stats: JwksFileStats = { loads: 0, failures: 0 };
  let set = parseJwks(await readLimited(file), file);
  let keys = createLocalJWKSet(set);
  stats.loads++;
  const listeners = new JwksListeners();
  let inFlight: Promise<boolean> | undefined;
  let lastMissRefresh = Number.NEGATIVE_INFINITY;

  // One re-read at a time; concurrent callers share it.
  const reload = (): Promise<boolean> => {
    inFlight ??= (async () => {
      try {
        const next = parseJwks(await readLimited(file), file);
        keys = createLocalJWKSet(next);
        stats.loads++;
        const before = set;
        set = next;
        listeners.compare(before, next);
        return true;
      } catch (err) {
        stats.failures++;
        stats.lastError = messageOf(err);
        return false;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const unwatch = options.watch === false ? undefined : watchFile(file, () => void reload());

  return {
    async getKey(header, token) {
      try {
        return await keys(header, token);
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
        const now = Date.now();
        if (now - lastMissRefresh < cooldownMs) throw err;
        lastMissRefresh = now;
        if (!(await reload())) throw err;
        return await keys(header, token);
      }
    },
    close() {
      unwatch?.();
    },
    stats: () => ({ ...stats }),
    reload,
    onChange: (listener) => listeners.add(listener),
  };
}

// Reads the file, refusing one over MAX_JWKS_BYTES without reading it whole.
async function readLimited(file: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    if (size > MAX_JWKS_BYTES) throw new Error(`JWKS is over ${MAX_JWKS_BYTES} bytes`);
    return await handle.readFile('utf8');
  } catch (err) {
    throw new WardenError('JWKS_UNAVAILABLE', `${file}: ${messageOf(err)}`, { cause: err, details: { origin: file } });
  } finally {
    await handle?.close();
  }
}

// Watches the file's folder (a rename into place replaces the inode) and calls back, debounced; returns the stop function.
function watchFile(file: string, onChange: () => void): (() => void) | undefined {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  try {
    const watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 50);
      timer.unref();
    });
    watcher.on('error', () => watcher.close());
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  } catch {
    return undefined; // no watching on this platform/folder; unknown kids still trigger re-reads
  }
}
