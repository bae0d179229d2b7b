/**
 * `npm run bench`: every benchmark in sequence, each in its own Node process
 * (each is a script with top-level await, and a fresh process keeps one
 * benchmark's heap, JIT state and children out of the next one's figures).
 * Runs them all even if one fails; exits non-zero if any did.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES = [
  'verify',
  'decide',
  'throughput',
  'activation-stall',
  'publish',
  'reload',
  'decision-log',
  'decision-log-ship',
  'verdict',
  'activation',
  'paths',
  'opa-engine',
  'opa-engine-http',
  'replay',
  'shadow',
] as const;

// Runs `node --import tsx bench/<name>.bench.ts` with inherited output; resolves with its exit status.
function runBench(name: string): Promise<number> {
  const file = fileURLToPath(new URL(`./${name}.bench.ts`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const failed: string[] = [];
for (const name of BENCHES) {
  process.stderr.write(`\n=== bench: ${name} ===\n`);
  const started = Date.now();
  const status = await runBench(name);
  process.stderr.write(
    `=== bench: ${name} ${status === 0 ? 'done' : `FAILED (exit ${status})`} in ${((Date.now() - started) / 1000).toFixed(0)} s ===\n`,
  );
  if (status !== 0) failed.push(name);
}
if (failed.length > 0) {
  process.stderr.write(`benchmarks failed: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
