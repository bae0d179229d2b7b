/**
 * A description of the machine a benchmark ran on, stored with its results:
 * figures from different machines are not comparable.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

/** Where and with what the numbers were taken. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly v8: string;
}

/** Describes this machine; the CPU model comes from /proc/cpuinfo when there is one. */
export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    v8: process.versions.v8,
  };
}

// The "model name" line of /proc/cpuinfo (Linux), else what Node reports.
function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** The 1-minute load average now: how busy the (shared) machine was around a measurement. */
export function loadAverage(): number {
  return loadavg()[0] ?? NaN;
}
