/**
 * Reads trust material named by paths (CLI flags, agent config) and compiles
 * it. This is the disk side; the verify stage itself only sees contents.
 */
import { readFile } from 'node:fs/promises';
import { WardenError, messageOf } from '../errors.js';
import { keylessTrust, keyTrust, type Trust } from '../verify/trust.js';

/** Where trust comes from: public key files, or a trusted root file plus identity. */
export type TrustFiles =
  | { readonly publicKeys: readonly string[] }
  | { readonly trustedRoot: string; readonly issuer: string; readonly subjectRegex: string };

/** Loads and compiles the trust the files describe. */
export async function loadTrust(files: TrustFiles): Promise<Trust> {
  if ('publicKeys' in files) {
    const publicKeys = await Promise.all(files.publicKeys.map(async (p) => ({ pem: await readText(p), name: p })));
    return keyTrust({ publicKeys });
  }
  return keylessTrust({
    trustedRootJson: await readText(files.trustedRoot),
    issuer: files.issuer,
    subjectRegex: files.subjectRegex,
  });
}

// Reads a small trust file; a missing one is a configuration error.
async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new WardenError('TRUST_CONFIG_INVALID', `cannot read ${path}: ${messageOf(err)}`, { cause: err });
  }
}
