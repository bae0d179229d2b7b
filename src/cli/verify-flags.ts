/**
 * The verification flags of `warden pack verify` and `warden pack replay`: which
 * keys or keyless identity to trust, where the signature bundle is, an expected
 * digest. One parser, so both commands accept and refuse the same flags.
 */
import { existsSync } from 'node:fs';
import type { TrustFiles } from '../config/trust-files.js';
import { WardenError } from '../errors.js';
import { readOrFail } from './command.js';

/** parseArgs options for the verification flags. */
export const VERIFY_FLAGS = {
  'public-key': { type: 'string', multiple: true },
  'trusted-root': { type: 'string' },
  issuer: { type: 'string' },
  'subject-regex': { type: 'string' },
  bundle: { type: 'string' },
  digest: { type: 'string' },
} as const;

/** The usage text of the flags. */
export const VERIFY_USAGE =
  '(--public-key PUB [--public-key PUB2…] | --trusted-root ROOT --issuer I --subject-regex R) [--bundle B] [--digest sha256:…]';

/** Picks key-based or keyless trust from the flags; both or neither → USAGE. */
export function trustFiles(v: {
  'public-key'?: string[];
  'trusted-root'?: string;
  issuer?: string;
  'subject-regex'?: string;
}): TrustFiles {
  const keys = v['public-key'] ?? [];
  const keyless = v['trusted-root'] !== undefined || v.issuer !== undefined || v['subject-regex'] !== undefined;
  if (keys.length > 0 && keyless)
    throw new WardenError('USAGE', 'give either --public-key or --trusted-root/--issuer/--subject-regex, not both');
  if (keys.length > 0) return { publicKeys: keys };
  if (!v['trusted-root'] || !v.issuer || !v['subject-regex']) {
    throw new WardenError(
      'USAGE',
      'keyless verification needs --trusted-root, --issuer and --subject-regex (or use --public-key)',
    );
  }
  return { trustedRoot: v['trusted-root'], issuer: v.issuer, subjectRegex: v['subject-regex'] };
}

/**
 * The signature bundle of `file`: --bundle, else FILE.sigstore.json. A missing default bundle is
 * undefined ("unsigned", SIGNATURE_MISSING from the verify stage), not an I/O error: that is the
 * verdict the operator needs.
 */
export async function readSignature(file: string, bundle: string | undefined): Promise<Buffer | undefined> {
  const bundlePath = bundle ?? `${file}.sigstore.json`;
  return bundle !== undefined || existsSync(bundlePath) ? await readOrFail(bundlePath) : undefined;
}
