/**
 * Publishing a pack to a registry (`warden pack push`): the pack as an OPA
 * bundle artefact (config `{}` of type image.config.v1+json, one layer of type
 * image.layer.v1.tar+gzip titled with the file name), first by digest; then, if
 * given, its Sigstore bundle as a referrer of that manifest; then the tag, so
 * an agent never finds the new pack without its signature (artifactType
 * application/vnd.dev.sigstore.bundle.v0.3+json, empty config, subject = the
 * pack manifest), the way cosign 3 attaches one. A registry without the
 * referrers API (no `OCI-Subject` header on the upload) gets the referrers
 * tag-schema index `sha256-<hex>` updated instead.
 */
import { WardenError } from '../../errors.js';
import { digestOf, type Descriptor, type OciClient } from './client.js';
import { isDescriptor } from './manifest.js';
import {
  EMPTY_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  PACK_CONFIG,
  PACK_LAYER,
  SIGSTORE_BUNDLE,
  TITLE_ANNOTATION,
} from '../../verify/oci-media-types.js';

/** What was pushed. */
export interface Pushed {
  /** The pack manifest's digest (what `source.oci.reference` may pin). */
  readonly manifest: string;
  /** The pack layer's digest (the pack's own SHA-256). */
  readonly layer: string;
  /** The signature referrer's manifest digest, when a bundle was attached. */
  readonly signature?: string;
}

/** Pushes pack bytes under the client's tag, and the signature bundle as a referrer. */
export async function pushPack(
  client: OciClient,
  tag: string,
  pack: Buffer,
  title: string,
  bundle: Buffer | undefined,
): Promise<Pushed> {
  const config = await client.pushBlob(Buffer.from('{}'), PACK_CONFIG);
  const layer = await client.pushBlob(pack, PACK_LAYER);
  const manifest = canonical({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config,
    layers: [{ ...layer, annotations: { [TITLE_ANNOTATION]: title } }],
  });
  // Untagged first, signed, then tagged: an agent polling the tag never sees the new pack before its signature.
  const digest = await client.pushManifest(digestOf(manifest), manifest, OCI_MANIFEST);
  let signature: string | undefined;
  if (bundle !== undefined)
    signature = await attachBundle(client, { mediaType: OCI_MANIFEST, digest, size: manifest.length }, bundle);
  await client.pushManifest(tag, manifest, OCI_MANIFEST);
  return { manifest: digest, layer: layer.digest, ...(signature === undefined ? {} : { signature }) };
}

/** Attaches a Sigstore bundle to a manifest as a referrer; returns the referrer's digest. */
export async function attachBundle(client: OciClient, subject: Descriptor, bundle: Buffer): Promise<string> {
  const empty = await client.pushBlob(Buffer.from('{}'), EMPTY_CONFIG);
  const layer = await client.pushBlob(bundle, SIGSTORE_BUNDLE);
  const annotations = { 'org.opencontainers.image.created': new Date().toISOString() };
  const bytes = canonical({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SIGSTORE_BUNDLE,
    config: empty,
    layers: [layer],
    subject,
    annotations,
  });
  const { digest, subjectHeader } = await client.pushReferrerManifest(bytes);
  if (subjectHeader === undefined) {
    await addToReferrersTag(client, subject.digest, {
      mediaType: OCI_MANIFEST,
      digest,
      size: bytes.length,
      artifactType: SIGSTORE_BUNDLE,
      annotations,
    });
  }
  return digest;
}

// The referrers tag schema: the index tagged sha256-<hex> lists the referrers of a registry without the API.
async function addToReferrersTag(client: OciClient, subject: string, referrer: Descriptor): Promise<void> {
  const tag = subject.replace(':', '-');
  let manifests: Descriptor[] = [];
  try {
    const index = await client.getManifest(tag);
    const parsed = JSON.parse(index.bytes.toString('utf8')) as { manifests?: unknown };
    manifests = Array.isArray(parsed.manifests) ? (parsed.manifests as unknown[]).filter(isDescriptor) : [];
  } catch (err) {
    if (!(err instanceof WardenError && err.details?.status === 404)) throw err;
  }
  if (manifests.some((m) => m.digest === referrer.digest)) return;
  const index = canonical({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...manifests, referrer] });
  await client.pushManifest(tag, index, OCI_INDEX);
}

function canonical(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
