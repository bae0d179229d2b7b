/**
 * A throwaway PKI made with the real `openssl`: a CA, a server certificate for
 * 127.0.0.1 (serverAuth) and a client certificate (clientAuth), EC P-256, valid
 * one day. The files stay on disk (for servers configured by path: the
 * registry, MinIO, an agent's `ca_file`) and are returned as bytes too.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './fs.js';

/** True when `openssl` is on PATH. */
export const hasOpenssl = ((): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

/** The material of one PKI, as bytes. */
export interface Pki {
  readonly ca: Buffer;
  readonly serverCert: Buffer;
  readonly serverKey: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
  /** Where the PEM files are: ca.pem, server.pem, server.key, client.pem, client.key. */
  readonly dir: string;
  /** The path of one of them. */
  path(file: 'ca.pem' | 'server.pem' | 'server.key' | 'client.pem' | 'client.key'): string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makePki(): Pki {
  const dir = tempDir('warden-pki-');
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=warden test CA', '-days', '1');
  for (const [name, ext, serial] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth', '2'],
    ['client', 'extendedKeyUsage=clientAuth', '3'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      serial,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  }
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return {
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    dir,
    path: (file) => join(dir, file),
  };
}
