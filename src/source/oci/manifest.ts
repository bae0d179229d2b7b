/**
 * Finds the pack in a fetched manifest the way OPA's OCI downloader finds a
 * bundle: the first layer of type `image.layer.v1.tar+gzip`; an image index is
 * walked (at most 4 levels, skipping buildx's `unknown/unknown` attestation
 * entries) to the first manifest holding such a layer.
 */
import { WardenError } from '../../errors.js';
import type { Descriptor, FetchedManifest, OciClient } from './client.js';
import { PACK_LAYER } from '../../verify/oci-media-types.js';

/** The manifest holding the pack and the pack layer's descriptor. */
export interface PackLocation {
  readonly manifest: FetchedManifest;
  readonly layer: Descriptor;
}

const MAX_INDEX_DEPTH = 4;

interface ManifestJson {
  readonly layers?: unknown;
  readonly manifests?: unknown;
}

/** Parses manifest bytes as JSON; OCI_MANIFEST_INVALID when they are not an object. */
export function parseManifestJson(m: FetchedManifest, origin: string): ManifestJson {
  let json: unknown;
  try {
    json = JSON.parse(m.bytes.toString('utf8'));
  } catch {
    throw invalid(`the manifest ${m.digest} at ${origin} is not JSON`, m.digest);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw invalid(`the manifest ${m.digest} at ${origin} is not a JSON object`, m.digest);
  return json;
}

/** The pack layer of a manifest, if it has one. */
export function packLayerOf(json: ManifestJson): Descriptor | undefined {
  if (!Array.isArray(json.layers)) return undefined;
  return (json.layers as unknown[]).find((l): l is Descriptor => isDescriptor(l) && l.mediaType === PACK_LAYER);
}

/** Walks from a fetched manifest (or index) to the manifest holding the pack layer. */
export async function locatePack(client: OciClient, top: FetchedManifest, signal?: AbortSignal): Promise<PackLocation> {
  const seen = new Set<string>([top.digest]);
  const walk = async (m: FetchedManifest, depth: number): Promise<PackLocation | undefined> => {
    const json = parseManifestJson(m, client.origin);
    const layer = packLayerOf(json);
    if (layer !== undefined) return { manifest: m, layer };
    if (!Array.isArray(json.manifests) || depth >= MAX_INDEX_DEPTH) return undefined;
    for (const entry of json.manifests as unknown[]) {
      if (!isDescriptor(entry) || seen.has(entry.digest)) continue;
      const platform = (entry as { platform?: { os?: string; architecture?: string } }).platform;
      if (platform?.os === 'unknown' && platform.architecture === 'unknown') continue;
      seen.add(entry.digest);
      const found = await walk(await client.getManifest(entry.digest, signal), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const found = await walk(top, 0);
  if (found === undefined)
    throw invalid(
      `the artefact ${top.digest} at ${client.origin} has no layer of type ${PACK_LAYER} (not a pack or OPA bundle)`,
      top.digest,
    );
  return found;
}

/** True when v looks like a descriptor with a sha256 digest and a size. */
export function isDescriptor(v: unknown): v is Descriptor {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return (
    typeof d.mediaType === 'string' &&
    typeof d.digest === 'string' &&
    /^sha256:[a-f0-9]{64}$/.test(d.digest) &&
    typeof d.size === 'number'
  );
}

function invalid(message: string, digest: string): WardenError {
  return new WardenError('OCI_MANIFEST_INVALID', message, { details: { digest } });
}
