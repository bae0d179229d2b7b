/**
 * Whether a fetched pack and signature belong together. A pack and its
 * `.sigstore.json` are two requests; a publish between them (signature first,
 * then pack) yields a torn pair. The source re-fetches such a pair instead of
 * reporting a false DIGEST_MISMATCH. This is a consistency check on the
 * transfer only: trust is decided by the verify stage, which parses the bundle
 * properly and refuses a mismatch whatever this says.
 */
import { createHash } from 'node:crypto';

/** True unless the signature readably names a SHA-256 digest other than the pack's. */
export function pairLooksConsistent(pack: Buffer, signature: Buffer | undefined): boolean {
  const signed = signedDigestHex(signature);
  return signed === undefined || signed === createHash('sha256').update(pack).digest('hex');
}

// The hex digest a Sigstore message-signature bundle names; undefined if it cannot tell.
function signedDigestHex(signature: Buffer | undefined): string | undefined {
  if (!signature) return undefined;
  try {
    const json = JSON.parse(signature.toString('utf8')) as {
      messageSignature?: { messageDigest?: { digest?: unknown } };
    };
    const digest = json.messageSignature?.messageDigest?.digest;
    return typeof digest === 'string' ? Buffer.from(digest, 'base64').toString('hex') : undefined;
  } catch {
    return undefined;
  }
}
