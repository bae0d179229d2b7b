/**
 * A real OCI registry (CNCF distribution's `registry`, pinned in
 * scripts/install-tools.mjs) on 127.0.0.1: a random port, temp storage, a
 * config file written here. Anonymous access (no htpasswd: no bcrypt library
 * is installed to write one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/project.js';
import { tempDir } from './fs.js';
import { freePort } from './opa-server.js';
import { eventually } from './wait.js';

/** Path of a pinned tool in .tools/bin. */
export function toolPath(name: 'registry' | 'oras' | 'cosign'): string {
  return join(PROJECT_ROOT, '.tools', 'bin', name);
}

/** True when the registry and oras are installed (`node scripts/install-tools.mjs registry oras`). */
export function ociToolsPresent(): boolean {
  return existsSync(toolPath('registry')) && existsSync(toolPath('oras'));
}

/** A running registry. */
export interface Registry {
  /** host:port, as a reference's registry part. */
  readonly host: string;
  readonly dir: string;
  /** Stops it (SIGTERM; SIGKILL with `kill`). */
  stop(kill?: boolean): Promise<void>;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
}

/** Starts a registry; storage survives restart(). */
export async function startRegistry(): Promise<Registry> {
  const dir = tempDir('warden-registry-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async (): Promise<void> => {
    let stderr = '';
    const c = spawn(toolPath('registry'), ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child = c;
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    await eventually(
      async () => {
        if (c.exitCode !== null) throw new Error(`registry exited: ${stderr}`);
        return (await fetch(`http://${host}/v2/`).catch(() => undefined))?.status === 200;
      },
      { what: 'the registry answering /v2/', timeoutMs: 20_000 },
    );
  };
  await start();
  return {
    host,
    dir,
    stop: async (kill = false) => {
      if (child !== undefined && child.exitCode === null) child.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
    restart: start,
  };
}
