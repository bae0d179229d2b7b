/**
 * Runs the real `warden` command (bin/warden.js over the compiled dist/) as a child process.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

/** Exit status and output of one `warden …` run. */
export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `warden args…` in cwd. */
export function warden(args: string[], cwd?: string, env: NodeJS.ProcessEnv = process.env): CliRun {
  const res = spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { status: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}
