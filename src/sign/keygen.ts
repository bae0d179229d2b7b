/**
 * `warden keygen`: a fresh ECDSA P-256 pair, PREFIX.key (PKCS#8 PEM, mode 0600)
 * and PREFIX.pub (SPKI PEM). Refuses to overwrite existing files.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { WardenError, messageOf } from '../errors.js';
import { keyHint } from './keys.js';

/** Paths written and the public key's hint. */
export interface GeneratedKeys {
  readonly privatePath: string;
  readonly publicPath: string;
  readonly hint: string;
}

/** Writes PREFIX.key and PREFIX.pub. */
export async function generateKeys(prefix: string): Promise<GeneratedKeys> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privatePath = `${prefix}.key`;
  const publicPath = `${prefix}.pub`;
  try {
    // 'wx': never clobber an existing key; mode 0600 is applied at creation, not after.
    await writeFile(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
    await writeFile(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw new WardenError('IO_FAILED', `cannot write key pair ${prefix}.{key,pub}: ${messageOf(err)}`, { cause: err });
  }
  return { privatePath, publicPath, hint: keyHint(publicKey) };
}
