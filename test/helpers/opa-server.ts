/**
 * A real `opa run --server` on 127.0.0.1, for tests that compare Warden's
 * answers with OPA's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { locateOpa } from '../../src/opa/locate.js';
import { eventually } from './wait.js';

/** A running OPA server. */
export interface OpaServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts `opa run --server` with `args` (a config, bundles …) and waits until /health answers 200. */
export async function startOpaServer(args: readonly string[]): Promise<OpaServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(locateOpa().path, ['run', '--server', '--addr', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`opa exited: ${stderr}`);
        return (await fetch(`${url}/health`).catch(() => undefined))?.status === 200;
      },
      { what: 'opa run --server answering /health', timeoutMs: 20_000 },
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
