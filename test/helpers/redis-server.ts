/**
 * A real `redis-server` (Debian's, from PATH, or $WARDEN_REDIS_SERVER) on
 * 127.0.0.1 for tests: a free port, its own temporary folder, no persistence
 * (`--save ''`, no AOF). `stop` kills it by handle; `start` runs it again on
 * the same port (to test an outage and a restart). Every server still running
 * is killed when the test process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tempDir } from './fs.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The redis-server binary; fails the test with a clear message if there is none. */
export function redisServerBinary(): string {
  const bin = process.env['WARDEN_REDIS_SERVER'] ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0)
    throw new Error(`${bin} not found: install Debian's redis-server (or set WARDEN_REDIS_SERVER) to run these tests`);
  return bin;
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** One redis-server; `url` stays the same across stop/start. */
export class RedisServer {
  #child: ChildProcess | undefined;
  readonly output: string[] = [];

  private constructor(
    readonly bin: string,
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port and waits until it accepts connections. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(redisServerBinary(), await freePort(), tempDir('warden-redis-'));
    await server.start();
    return server;
  }

  /** (Re)starts the server on its port; resolves once it is ready for connections. */
  async start(): Promise<void> {
    if (this.#child) return;
    const child = spawn(
      this.bin,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(child);
    this.#child = child;
    child.on('exit', () => {
      live.delete(child);
      if (this.#child === child) this.#child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        if (/Ready to accept connections/.test(chunk.toString('utf8'))) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${this.output.join('\n')}`)));
      child.once('error', reject);
    });
  }

  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
