/**
 * One `opa run --server` child process: spawned with the sidecar's config on a
 * unix socket, its stderr (OPA's JSON log lines) passed to Warden's logger —
 * errors at warn, the rest at debug, each line bounded — and stopped with
 * SIGTERM, then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../observe/logger.js';

/** How the child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const MAX_LINE = 4096;
// A burst of OPA errors (a bundle refused on every retry) is logged at most this often per second.
const MAX_LINES_PER_SECOND = 50;

/** A running opa child. */
export class OpaChild {
  readonly #child: ChildProcess;
  readonly exited: Promise<ChildExit>;
  #stopping = false;

  constructor(opaPath: string, args: readonly string[], logger: Logger) {
    this.#child = spawn(opaPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => resolve({ code, signal }));
      // A spawn failure (ENOENT, EACCES) emits 'error' and no 'exit'.
      this.#child.once('error', (err) => {
        logger.warn({ err: err.message }, 'could not spawn opa');
        resolve({ code: -1, signal: null });
      });
    });
    pipeLog(this.#child, logger.child({ component: 'opa' }), () => this.#stopping);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** True once stop() was called: the exit that follows is not a crash. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

// OPA's stderr, line by line, into the logger (bounded line length and rate; errors at warn unless stopping).
function pipeLog(child: ChildProcess, logger: Logger, stopping: () => boolean): void {
  let pending = '';
  // True while the rest of an over-long line is skipped (its first MAX_LINE characters were logged).
  let skipping = false;
  let windowStart = 0;
  let inWindow = 0;
  let dropped = 0;
  const emit = (line: string): void => {
    if (line.trim() === '') return;
    const now = performance.now();
    if (now - windowStart > 1000) {
      if (dropped > 0) logger.warn({ dropped }, 'OPA log lines dropped (rate limit)');
      windowStart = now;
      inWindow = 0;
      dropped = 0;
    }
    if (++inWindow > MAX_LINES_PER_SECOND) {
      dropped += 1;
      return;
    }
    let level = '';
    let msg = line;
    try {
      const parsed = JSON.parse(line) as { level?: unknown; msg?: unknown };
      level = typeof parsed.level === 'string' ? parsed.level : '';
      msg = typeof parsed.msg === 'string' ? parsed.msg : line;
    } catch {
      // Not JSON (a Go panic, a flag warning): logged as it is.
    }
    // While stopping, OPA's complaints about its cancelled bundle requests are expected.
    if (!stopping() && (level === 'error' || level === 'fatal' || level === 'panic'))
      logger.warn({ opa: line }, `opa: ${msg}`);
    else logger.debug({ opa: line }, `opa: ${msg}`);
  };
  child.stderr?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      if (!skipping) emit(pending.slice(0, Math.min(nl, MAX_LINE)));
      skipping = false;
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
    if (pending.length > MAX_LINE) {
      if (!skipping) emit(pending.slice(0, MAX_LINE));
      skipping = true;
      pending = '';
    }
  });
  child.stderr?.on('end', () => {
    if (!skipping) emit(pending.slice(0, MAX_LINE));
  });
}
