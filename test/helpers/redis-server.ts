/**
 * A real `redis-server` (Debian's, from PATH, or $WARDEN_REDIS_SERVER) on
 * 127.0.0.1 for tests (spawned by load/lib/redis-server.mjs, shared with the load runner): a free port, its own temporary folder, no persistence
 * (`--save ''`, no AOF). `stop` kills it by handle; `start` runs it again on
 * the same port (to test an outage and a restart). Every server still running
 * is killed when the test process exits.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { redisServerBinary, spawnRedisServer } from '../../load/lib/redis-server.mjs';
import { tempDir } from './fs.js';

export { redisServerBinary };

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

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
    const { child, ready } = spawnRedisServer({ bin: this.bin, port: this.port, dir: this.dir, output: this.output });
    live.add(child);
    this.#child = child;
    child.on('exit', () => {
      live.delete(child);
      if (this.#child === child) this.#child = undefined;
    });
    await ready;
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
