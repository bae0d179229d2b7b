/**
 * The child's pid file in runDir. A Warden killed with SIGKILL leaves its OPA
 * running (and holding the socket); the next start reads the pid file and, if
 * that process still lives and is an opa, kills it before spawning a new one.
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observe/logger.js';

/** The pid file's path in runDir. */
export function pidFilePath(runDir: string): string {
  return join(runDir, 'opa.pid');
}

/** Records the child's pid. */
export async function writePidFile(runDir: string, pid: number): Promise<void> {
  await writeFile(pidFilePath(runDir), `${pid}\n`, { mode: 0o600 });
}

/** Removes the pid file (missing is fine). */
export async function removePidFile(runDir: string): Promise<void> {
  await rm(pidFilePath(runDir), { force: true });
}

/**
 * Kills the OPA a previous Warden left behind, if the pid file names a live opa
 * process; waits (bounded) until it is gone. Returns the pid killed, if any.
 */
export async function killLeftover(runDir: string, logger: Logger, waitMs = 5000): Promise<number | undefined> {
  const text = await readFile(pidFilePath(runDir), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return undefined;
  if (!isRunning(pid) || !commandLine(pid).includes('opa')) return undefined;
  logger.warn({ pid }, 'killing the OPA a previous Warden left running');
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return undefined;
  }
  const end = performance.now() + waitMs;
  while (isRunning(pid) && performance.now() < end) await sleep(10);
  await removePidFile(runDir);
  return pid;
}

// True while pid names a process that has not exited (a zombie has exited).
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

// The process's argv joined by spaces ('' when /proc is not readable).
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}
