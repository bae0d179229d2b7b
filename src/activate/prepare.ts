/**
 * Turns pack bytes into a ready-to-swap candidate: verify (signature, digest),
 * read safely, check the manifest and marker, build the wasm engine and run
 * the pack's golden decisions on it (the canary gate). Nothing here changes
 * what is active.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Engine } from '../engine/engine.js';
import { WardenError } from '../errors.js';
import type { LimitKeys, PackLimits } from '../pack/limits.js';
import { ATTR, inSpan, inSpanSync } from '../observe/tracing.js';
import { MANIFEST_PATH, manifestEntrypoints, parseManifest, type PackManifest } from '../pack/manifest.js';
import { readPack } from '../pack/reader.js';
import { loadPackEngine } from './load-engine.js';
import { sha256Digest } from '../verify/digest.js';
import type { Trust } from '../verify/trust.js';
import { verifyPack, type SignerIdentity } from '../verify/verify.js';

/** How packs of one configured entry are trusted: compiled trust, or unsigned (directory sources only). */
export type PackTrust = Trust | { readonly kind: 'unsigned' };

/**
 * Builds a verified pack's engine: on this thread (the default), in the
 * decision workers (src/workers/), which read the pack bytes themselves, or on
 * the engine preparer thread (src/workers/preparer.ts), which takes the read files' buffers:
 * `files` must not be read after it was handed to a loader.
 */
export type EngineLoader = (
  pack: Buffer,
  files: ReadonlyMap<string, Uint8Array>,
  manifest: PackManifest,
) => Promise<{ readonly engine: Engine; readonly goldenRun: number }>;

/** Loads on the calling thread: the loader when none is given. */
export const localEngines: EngineLoader = (_pack, files, manifest) => loadPackEngine(files, manifest);

/** A verified, loaded pack, ready to become active. */
export interface Candidate {
  readonly digest: string;
  readonly manifest: PackManifest;
  readonly revision: string;
  readonly sequence: number;
  readonly entrypoints: readonly string[];
  readonly signer: SignerIdentity | undefined;
  readonly engine: Engine;
  readonly goldenRun: number;
}

/**
 * Verifies and loads pack bytes for the pack named `name` (undefined: any name, for a
 * tool with no configured entry, `warden pack replay`). With `active`, a pack
 * whose signed sequence is not newer is refused as PACK_DOWNGRADE. `limitKeys` names
 * where `limits` were set, for refusals (the agent: its `limits.*` keys);
 * `expectedDigest` refuses other bytes as DIGEST_MISMATCH (`--digest`).
 */
export async function prepareCandidate(
  name: string | undefined,
  pack: Buffer,
  signature: Buffer | undefined,
  trust: PackTrust,
  limits: Partial<PackLimits>,
  active?: { readonly sequence: number; readonly revision: string },
  options: {
    readonly limitKeys?: LimitKeys | undefined;
    readonly engines?: EngineLoader | undefined;
    readonly expectedDigest?: string | undefined;
    /** Added to the `warden.verify` and `warden.load` spans (the agent: pack and correlation id). */
    readonly spanAttributes?: Attributes | undefined;
  } = {},
): Promise<Candidate> {
  const expected = options.expectedDigest === undefined ? {} : { expectedDigest: options.expectedDigest };
  const attributes = options.spanAttributes ?? {};
  const { signer, digest } = inSpanSync('warden.verify', attributes, (span) => {
    const verified = trust.kind === 'unsigned' ? undefined : verifyPack(pack, signature, trust, expected).signer;
    const sha = sha256Digest(pack);
    span.setAttribute(ATTR.digest, sha);
    return { signer: verified, digest: sha };
  });
  return inSpan('warden.load', { ...attributes, [ATTR.digest]: digest }, () =>
    loadCandidate(name, pack, limits, active, options, signer, digest),
  );
}

// Reads a verified pack, checks its manifest and marker, builds its engine and runs its golden decisions.
async function loadCandidate(
  name: string | undefined,
  pack: Buffer,
  limits: Partial<PackLimits>,
  active: { readonly sequence: number; readonly revision: string } | undefined,
  options: { readonly limitKeys?: LimitKeys | undefined; readonly engines?: EngineLoader | undefined },
  signer: SignerIdentity | undefined,
  digest: string,
): Promise<Candidate> {
  const files = await readPack(pack, limits, options.limitKeys ? { limitKeys: options.limitKeys } : {});
  const manifest = parseManifest(files.get(MANIFEST_PATH));
  const marker = manifest.metadata.warden;
  if (name !== undefined && marker.pack !== name) {
    throw new WardenError('PACK_NAME_MISMATCH', `the pack's marker names "${marker.pack}", this entry is "${name}"`, {
      details: { marker: marker.pack },
    });
  }
  // Checked before the engine is built: a replayed pack costs a digest, a signature check and a read.
  if (active && marker.sequence <= active.sequence) {
    throw new WardenError(
      'PACK_DOWNGRADE',
      `pack sequence ${marker.sequence} is not newer than the active ${active.sequence} (revision ${active.revision})`,
      {
        details: { sequence: marker.sequence, activeSequence: active.sequence, digest },
      },
    );
  }
  const entrypoints = manifestEntrypoints(manifest);
  const { engine, goldenRun } = await (options.engines ?? localEngines)(pack, files, manifest);
  return {
    digest,
    manifest,
    revision: manifest.revision,
    sequence: marker.sequence,
    entrypoints,
    signer,
    engine,
    goldenRun,
  };
}

/** A short text naming the signer, for the store and logs. */
export function describeSigner(signer: SignerIdentity | undefined): string {
  if (!signer) return 'unsigned';
  return signer.kind === 'key' ? `key:${signer.name}:${signer.hint}` : `keyless:${signer.issuer}:${signer.subject}`;
}
