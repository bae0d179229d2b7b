/**
 * SHA-256 digests in the `sha256:<hex>` form used in ETags, logs and /healthz.
 */
import { createHash } from 'node:crypto';

/** `sha256:<hex>` of bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** True for a well-formed `sha256:<64 hex>` string. */
export function isSha256Digest(value: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(value);
}
