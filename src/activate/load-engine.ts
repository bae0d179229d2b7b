/**
 * A read pack's engine: its policy.wasm loaded with the pack's data, checked to
 * declare every entrypoint the manifest names, and golden-checked (the pack's
 * own golden decisions, the canary gate). Runs on the primary thread for a
 * local engine, inside each decision worker for a pooled one.
 */
import { loadSharedWasmEngine, loadWasmEngine, type EngineHandover, type WasmEngine } from '../engine/wasm.js';
import { WardenError, messageOf } from '../errors.js';
import { assembleDataText } from '../pack/data.js';
import { runGolden } from '../pack/golden.js';
import { GOLDEN_PATH, manifestEntrypoints, type PackManifest } from '../pack/manifest.js';
import { goldenCaseSchema, type GoldenCase } from '../pack/spec.js';

/** A loaded engine and how many golden decisions it passed. */
export interface LoadedEngine {
  readonly engine: WasmEngine;
  readonly goldenRun: number;
}

/** Loads the engine of a pack whose files were read and manifest parsed; throws a coded error. */
export async function loadPackEngine(
  files: ReadonlyMap<string, Uint8Array>,
  manifest: PackManifest,
): Promise<LoadedEngine> {
  const { engine, goldenRun } = await loadChecked(files, manifest, async (wasm, data) => ({
    engine: await loadWasmEngine(wasm, data),
    handover: undefined,
  }));
  return { engine, goldenRun };
}

/**
 * loadPackEngine on a shared memory, for another thread to adopt (the preparer thread): the
 * engine was golden-checked here; the caller must drop it and hand over `handover`.
 */
export async function loadSharedPackEngine(
  files: ReadonlyMap<string, Uint8Array>,
  manifest: PackManifest,
): Promise<LoadedEngine & { readonly handover: EngineHandover }> {
  const { engine, goldenRun, handover } = await loadChecked(files, manifest, loadSharedWasmEngine);
  if (!handover) throw new Error('a shared load gives a handover');
  return { engine, goldenRun, handover };
}

async function loadChecked(
  files: ReadonlyMap<string, Uint8Array>,
  manifest: PackManifest,
  load: (
    wasm: Uint8Array,
    data: Uint8Array,
  ) => Promise<{ readonly engine: WasmEngine; readonly handover: EngineHandover | undefined }>,
): Promise<LoadedEngine & { readonly handover: EngineHandover | undefined }> {
  const wasmPath = manifest.wasm[0]?.module.replace(/^\/+/, '') ?? 'policy.wasm';
  const wasm = files.get(wasmPath);
  if (!wasm)
    throw new WardenError('PACK_MANIFEST_INVALID', `the manifest names ${wasmPath}, which the pack does not hold`);
  // The data as text: parsed once, by the engine (a 10 MB data.json: ~0.4 s less than parsing it into JavaScript objects first).
  const { engine, handover } = await load(wasm, assembleDataText(files));
  const missing = manifestEntrypoints(manifest).filter((e) => !engine.entrypoints.includes(e));
  if (missing.length > 0)
    throw new WardenError('PACK_MANIFEST_INVALID', `policy.wasm lacks entrypoints ${missing.join(', ')}`);
  const golden = parseGolden(files.get(GOLDEN_PATH));
  runGolden(engine, golden);
  return { engine, goldenRun: golden.length, handover };
}

/** Reads the pack's golden cases (absent → none); a malformed file refuses the pack. */
export function parseGolden(bytes: Uint8Array | undefined): GoldenCase[] {
  if (!bytes) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new WardenError('PACK_MANIFEST_INVALID', `${GOLDEN_PATH} is not JSON: ${messageOf(err)}`, { cause: err });
  }
  const parsed = goldenCaseSchema.array().max(10_000).safeParse(raw);
  if (!parsed.success)
    throw new WardenError('PACK_MANIFEST_INVALID', `${GOLDEN_PATH}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}
