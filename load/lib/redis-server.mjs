// A real `redis-server` (Debian's, from PATH, or $WARDEN_REDIS_SERVER) on 127.0.0.1: no
// persistence (`--save ''`, no AOF), its own folder. Shared by the load runner
// (LOAD_REVOCATION=1) and the tests (test/helpers/redis-server.ts, which adds stop/restart).
import { spawn, spawnSync } from 'node:child_process';

/** The redis-server binary; throws a clear message if there is none. */
export function redisServerBinary() {
  const bin = process.env.WARDEN_REDIS_SERVER ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0)
    throw new Error(`${bin} not found: install Debian's redis-server (or set WARDEN_REDIS_SERVER)`);
  return bin;
}

/**
 * Spawns redis-server on `port` with `dir` as its folder; resolves with the child once it
 * accepts connections, rejects if it exits first. Its output lines are pushed to `output`.
 */
export function spawnRedisServer({ bin, port, dir, output = [] }) {
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      const text = chunk.toString('utf8');
      output.push(...text.split('\n').filter(Boolean));
      if (/Ready to accept connections/.test(text)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output.join('\n')}`)));
    child.once('error', reject);
  });
  return { child, ready };
}
