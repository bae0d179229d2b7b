/**
 * Times external commands as a caller would see them: fork + exec + run +
 * exit, output discarded. spawnSync blocks this process while the child runs,
 * so nothing else in the benchmark competes with it.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Stopwatch, type Laps } from './timing.js';

/** A command line: program and arguments (no shell). */
export interface Command {
  /** Name of the lap this command's time is recorded under. */
  readonly label: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd?: string;
}

/** Runs one command to completion, stdout discarded; throws with its stderr if it fails. Returns milliseconds. */
export function timeCommand(command: Command): number {
  const start = performance.now();
  const res = spawnSync(command.cmd, command.args, {
    cwd: command.cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1024 * 1024,
  });
  const ms = performance.now() - start;
  if (res.error) throw res.error;
  if (res.status !== 0) {
    const line = [command.cmd, ...command.args].join(' ');
    throw new Error(`\`${line}\` exited with ${res.status ?? res.signal}: ${res.stderr.toString('utf8').trim()}`);
  }
  return ms;
}

/** Runs commands one after the other; each is a lap, `total` is their sum including the gaps. */
export function timeCommands(commands: readonly Command[]): Laps {
  const sw = new Stopwatch();
  for (const command of commands) {
    timeCommand(command);
    sw.lap(command.label);
  }
  return sw.laps();
}

/** The first line a tool prints for `--version` (or `flag`), for the record of what was compared; "unknown" if it fails. */
export function toolVersion(cmd: string, flag = '--version'): string {
  const res = spawnSync(cmd, [flag], { encoding: 'utf8' });
  return res.status === 0 ? (res.stdout.split('\n')[0] ?? '').trim() : 'unknown';
}
