/**
 * The signature of a pack in a registry: a Sigstore bundle attached to the
 * pack's manifest as an OCI referrer (artifactType
 * `application/vnd.dev.sigstore.bundle.v0.3+json`), found with the referrers
 * API or its tag-schema fallback. Two kinds of bundle are met:
 * - `warden pack push --sign`: a message signature over the pack bytes (the
 *   layer blob), handed to the pipeline as is, exactly like an http pack's
 *   `.sigstore.json`;
 * - `cosign sign`: a DSSE envelope holding an in-toto statement whose subject
 *   is the manifest digest. It is handed over wrapped with the manifest bytes
 *   (verify/oci-attestation.ts), so the verify stage checks the chain
 *   signature → manifest → layer digest → pack bytes with nothing but what is
 *   stored, at every boot as at the first fetch.
 */
import { SIGNATURE_MAX_BYTES } from '../http-fetch.js';
import { wrapAttestation } from '../../verify/oci-attestation.js';
import type { Descriptor, FetchedManifest, OciClient } from './client.js';
import { isDescriptor, parseManifestJson } from './manifest.js';
import { SIGSTORE_BUNDLE } from '../../verify/oci-media-types.js';

/** The chosen signature referrer: its manifest digest (the signature's version tag) and descriptor. */
export interface SignatureRef {
  readonly digest: string;
  readonly descriptor: Descriptor;
}

/** The newest Sigstore bundle referrer of a manifest (by its `created` annotation), if any. */
export async function findSignature(
  client: OciClient,
  subject: string,
  signal?: AbortSignal,
): Promise<SignatureRef | undefined> {
  const found = await client.referrers(subject, SIGSTORE_BUNDLE, signal);
  const created = (d: Descriptor): string => d.annotations?.['org.opencontainers.image.created'] ?? '';
  const newest = [...found].sort((a, b) => created(a).localeCompare(created(b))).pop();
  return newest === undefined ? undefined : { digest: newest.digest, descriptor: newest };
}

/** The signature bytes for the pipeline: the bundle of the referrer, wrapped with the pack manifest when it is a DSSE attestation. */
export async function fetchSignatureBytes(
  client: OciClient,
  ref: SignatureRef,
  packManifest: FetchedManifest,
  signal?: AbortSignal,
): Promise<Buffer> {
  const manifest = await client.getManifest(ref.digest, signal);
  const json = parseManifestJson(manifest, client.origin);
  const layers = Array.isArray(json.layers) ? (json.layers as unknown[]).filter(isDescriptor) : [];
  const layer = layers.find((l) => l.mediaType === SIGSTORE_BUNDLE) ?? layers[0];
  if (layer === undefined) return Buffer.alloc(0); // refused downstream as SIGNATURE_MISSING
  const bundle = await client.getBlob(layer.digest, SIGNATURE_MAX_BYTES, undefined, signal);
  return isDsseBundle(bundle) ? wrapAttestation(bundle, packManifest.bytes) : bundle;
}

// True when the bundle JSON holds a DSSE envelope rather than a message signature.
function isDsseBundle(bytes: Buffer): boolean {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { dsseEnvelope?: unknown };
    return typeof json.dsseEnvelope === 'object' && json.dsseEnvelope !== null;
  } catch {
    return false;
  }
}
