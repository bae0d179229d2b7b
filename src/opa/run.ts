/**
 * Runs opa as a child process with a time limit and bounded captured output.
 */
import { spawn } from 'node:child_process';
import { WardenError } from '../errors.js';

/** What an opa run printed and how it ended. */
export interface OpaResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** True when opa printed more than the output limit and the rest was dropped. */
  readonly truncated: boolean;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/** Runs `opa args…` in cwd; resolves with its output whatever the exit status. */
export function runOpa(
  opaPath: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number; stdin?: string; maxOutputBytes?: number } = {},
): Promise<OpaResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opaPath, args, {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const limit = options.maxOutputBytes ?? MAX_OUTPUT;
    let size = 0;
    let truncated = false;
    // Keeps at most `limit` bytes of the child's output in memory.
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) into.push(chunk);
      else truncated = true;
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e) => reject(new WardenError('OPA_FAILED', `could not run opa: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      if (signal) {
        reject(new WardenError('OPA_FAILED', `opa ${args[0] ?? ''} was killed by ${signal} (time limit?)`));
        return;
      }
      resolve({
        status: code ?? 1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        truncated,
      });
    });
    // opa may exit before it reads its input (a usage error, a crash): the write then fails with
    // EPIPE, which must not become an unhandled 'error' that ends the agent; 'close' reports the exit.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}
