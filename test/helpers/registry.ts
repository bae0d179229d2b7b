/**
 * A real OCI registry (CNCF distribution's `registry`, pinned in
 * scripts/install-tools.mjs) on 127.0.0.1: a random port, temp storage, a
 * config file written here. Anonymous by default; optionally
 * - `htpasswd`: Basic auth against users written bcrypt-hashed (bcryptjs) to an
 *   htpasswd file, which the registry re-reads when it changes (setUsers);
 * - `token`: Bearer auth, tokens (JWTs) from a realm such as
 *   test/helpers/registry-token-server.ts, checked against the JWKS given;
 * - `tls`: HTTPS with a certificate and key (test/helpers/pki.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { PROJECT_ROOT } from '../../src/project.js';
import { tempDir } from './fs.js';
import { freePort } from './opa-server.js';
import { probeStatus } from './probe.js';
import { eventually } from './wait.js';

/** Path of a pinned tool in .tools/bin. */
export function toolPath(name: 'registry' | 'oras' | 'cosign'): string {
  return join(PROJECT_ROOT, '.tools', 'bin', name);
}

/** True when the registry and oras are installed (`node scripts/install-tools.mjs registry oras`). */
export function ociToolsPresent(): boolean {
  return existsSync(toolPath('registry')) && existsSync(toolPath('oras'));
}

/** How the registry authenticates and serves. */
export interface RegistryOptions {
  /** Basic auth (distribution's `auth: htpasswd`): username → password. */
  readonly htpasswd?: Readonly<Record<string, string>>;
  /** Bearer auth (distribution's `auth: token`): tokens from `realm`, for `service`, by `issuer`, signed by a key of `jwks`. */
  readonly token?: { readonly realm: string; readonly service: string; readonly issuer: string; readonly jwks: object };
  /** HTTPS: PEM file paths of the server certificate and key, and the CA (bytes) that the readiness probe trusts. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly ca: Buffer };
}

/** A running registry. */
export interface Registry {
  /** host:port, as a reference's registry part. */
  readonly host: string;
  readonly dir: string;
  /** Replaces the htpasswd users (the registry reads the file again on its next request). */
  setUsers(users: Readonly<Record<string, string>>): Promise<void>;
  /** Stops it (SIGTERM; SIGKILL with `kill`). */
  stop(kill?: boolean): Promise<void>;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
}

// An htpasswd file of bcrypt hashes (cost 5: the registry checks one per request).
function htpasswd(users: Readonly<Record<string, string>>): string {
  return Object.entries(users)
    .map(([user, password]) => `${user}:${bcrypt.hashSync(password, 5)}\n`)
    .join('');
}

/** Starts a registry; storage survives restart(). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = tempDir('warden-registry-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  const passwords = join(dir, 'htpasswd');
  const jwks = join(dir, 'jwks.json');
  if (opts.htpasswd) await writeFile(passwords, htpasswd(opts.htpasswd));
  if (opts.token) await writeFile(jwks, JSON.stringify(opts.token.jwks));
  const auth = opts.htpasswd
    ? ['auth:', '  htpasswd:', '    realm: warden-test', `    path: ${passwords}`]
    : opts.token
      ? [
          'auth:',
          '  token:',
          `    realm: ${opts.token.realm}`,
          `    service: ${opts.token.service}`,
          `    issuer: ${opts.token.issuer}`,
          `    jwks: ${jwks}`,
        ]
      : [];
  const tls = opts.tls ? ['  tls:', `    certificate: ${opts.tls.certFile}`, `    key: ${opts.tls.keyFile}`] : [];
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
      ...tls,
      ...auth,
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
    try {
      await eventually(
        async () => {
          if (c.exitCode !== null) throw new Error(`registry exited: ${stderr}`);
          // 401: up, and asking for credentials.
          const status = await probeStatus(`${opts.tls ? 'https' : 'http'}://${host}/v2/`, opts.tls?.ca);
          return status === 200 || status === 401;
        },
        { what: 'the registry answering /v2/', timeoutMs: 20_000 },
      );
    } catch (err) {
      c.kill('SIGKILL');
      throw err;
    }
  };
  await start();
  return {
    host,
    dir,
    setUsers: async (users) => writeFile(passwords, htpasswd(users)),
    stop: async (kill = false) => {
      if (child !== undefined && child.exitCode === null) child.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
    restart: start,
  };
}
