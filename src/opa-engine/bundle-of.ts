/**
 * A Warden pack's files → the plain Rego bundle OPA's bundle plugin loads: the
 * Rego sources and data files as they are, without policy.wasm, without the
 * `wasm` entries of the manifest (OPA would hand them to its wasm runtime) and
 * without warden.golden.json; a fresh `.manifest` carries the revision, the
 * roots, the Rego version and Warden's marker.
 */
import { GOLDEN_PATH, MANIFEST_PATH } from '../pack/manifest.js';
import { writeTarGz, type TarEntry } from '../pack/tar-writer.js';

/** The `.manifest` fields of the pack kept in the OPA bundle (rego_version matters: a v0 pack stays v0). */
interface KeptManifest {
  rego_version?: number;
  metadata?: Record<string, unknown>;
  wasm?: Array<{ module?: string }>;
}

/** The OPA rego bundle (tar.gz) of a Warden pack's files, at `revision` with `roots`. */
export function opaBundleOf(
  files: ReadonlyMap<string, Uint8Array>,
  revision: string,
  roots: readonly string[],
): Buffer {
  const original = readManifest(files.get(MANIFEST_PATH));
  const wasmModules = new Set((original.wasm ?? []).map((w) => (w.module ?? '').replace(/^\/+/, '')));
  const entries: TarEntry[] = [];
  for (const [path, data] of files) {
    if (path === MANIFEST_PATH || path === GOLDEN_PATH || wasmModules.has(path) || path.endsWith('.wasm')) continue;
    entries.push({ path, data });
  }
  const manifest = {
    revision,
    roots: [...roots],
    ...(original.rego_version !== undefined ? { rego_version: original.rego_version } : {}),
    ...(original.metadata !== undefined ? { metadata: original.metadata } : {}),
  };
  entries.push({ path: MANIFEST_PATH, data: Buffer.from(JSON.stringify(manifest)) });
  return writeTarGz(entries);
}

// The pack's manifest as far as it parses; a pack without one gives a bundle without those fields.
function readManifest(bytes: Uint8Array | undefined): KeptManifest {
  if (bytes === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}
