/**
 * CPU time a process has used so far, from /proc (Linux): lets a benchmark
 * say how much CPU each server spent per request, not only how fast it went,
 * which matters when servers and load generator share two cores.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

// Clock ticks per second (USER_HZ), usually 100.
function hz(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU milliseconds used by `pid` (its threads included), or NaN where /proc cannot tell. */
export function cpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** User + system CPU milliseconds used by `pid` and its child processes (an agent's serving processes). */
export function treeCpuMs(pid: number): number {
  return childrenOf(pid).reduce((sum, k) => sum + cpuMs(k), cpuMs(pid));
}

// The child processes of `pid`.
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when the process has no child.
  }
}

/**
 * User + system CPU milliseconds used by the process's main thread alone (the thread whose id is
 * the process id: for a Node server, the event loop that runs the HTTP layer), or NaN.
 */
export function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

// utime + stime of a /proc stat file, ms.
function statCpuMs(path: string): number {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / hz();
  } catch {
    return NaN;
  }
}

/**
 * CPU nanoseconds the calling process's main thread has run so far, from its
 * schedstat (Linux, ns resolution), or NaN where /proc cannot tell. Unlike
 * process.cpuUsage (every thread: libuv's pool, worker threads, the GC's
 * helpers) this is the thread that answers decisions.
 */
export function mainThreadCpuNs(): number {
  try {
    const pid = process.pid;
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/** Resident memory of `pid` now and its peak so far (VmRSS, VmHWM), MiB; NaN where /proc cannot tell. */
/** memoryMiB summed over `pid` and its child processes (an agent's serving processes). */
export function treeMemoryMiB(pid: number): { rss: number; peak: number } {
  return childrenOf(pid).reduce((sum, k) => {
    const m = memoryMiB(k);
    return { rss: sum.rss + m.rss, peak: sum.peak + m.peak };
  }, memoryMiB(pid));
}

export function memoryMiB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}
