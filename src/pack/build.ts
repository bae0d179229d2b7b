/**
 * `warden pack build`: a policy folder → a pack. Stages the folder's Rego and
 * data with a `.manifest` carrying Warden's marker, lets the real opa check and
 * compile it to wasm, refuses rules whose values certainly conflict (conflicts.ts),
 * runs the folder's `_test.rego` and golden decisions, and
 * re-packs the result deterministically (sorted, mtime 0, no leading `/`).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadWasmEngine, type Evaluation, type WasmEngine } from '../engine/wasm.js';
import { isWardenError, WardenError } from '../errors.js';
import { opaBuildWasm, opaCheck, opaTest, type RegoVersion } from '../opa/compile.js';
import { opaEval, type OpaEvalOutcome } from '../opa/eval.js';
import { locateOpa } from '../opa/locate.js';
import { WARDEN_VERSION } from '../project.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { checkRuleConflicts } from './conflicts.js';
import { pathEntrypoints } from './path-entrypoints.js';
import { assembleData, assembleDataText } from './data.js';
import { runGolden, runGoldenAsync } from './golden.js';
import { GOLDEN_PATH, MANIFEST_PATH, MARKER_FORMAT, parseManifest, type PackManifest } from './manifest.js';
import { readPack } from './reader.js';
import {
  OPTION_LIMIT_KEYS,
  overLimit,
  resolveLimits,
  type LimitKeys,
  type LimitSettings,
  type PackLimits,
} from './limits.js';
import { collectSources, defaultRoots, type PolicySources } from './sources.js';
import { readPackSpec, type GoldenCase, type PackSpec } from './spec.js';
import { gzipTar, writeTar } from './tar-writer.js';

/**
 * How to build. Only `dir` is required. `limits` (default DEFAULT_PACK_LIMITS) hold the
 * folder's files and the pack written to the reader's limits, so that a reader with the
 * same limits accepts the pack; `limitKeys` names where they were set, for refusals.
 */
export interface BuildOptions extends LimitSettings {
  readonly dir: string;
  /** Where to write the pack; omitted → nothing is written. */
  readonly out?: string;
  /** The opa binary (else WARDEN_OPA, .tools/bin, PATH). */
  readonly opaPath?: string;
  /** Monotonic marker; defaults to the creation time in milliseconds. */
  readonly sequence?: number;
  /** Overrides warden.yaml's revision. */
  readonly revision?: string;
  /** The creation time (tests pin it). */
  readonly now?: Date;
  /** The pack name for the marker, overriding warden.yaml's (the agent's configured name for a directory source). */
  readonly packName?: string;
  /** The pack description already read (a directory source read it with the sources, as one snapshot). */
  readonly spec?: PackSpec;
  /** Used when DIR has no warden.yaml (a ConfigMap of bare Rego: the agent's source configuration). */
  readonly fallbackSpec?: PackSpec;
  /** Sources already collected (the directory source read them to hash them); else read from DIR. */
  readonly sources?: PolicySources;
  /**
   * Whether to compile the package and root entrypoints that let the agent answer any data path
   * (default true; false builds the declared entrypoints only, as Warden did before them).
   */
  readonly pathEntrypoints?: boolean;
}

/** A built pack: its bytes, digest and what went into it. */
export interface BuiltPack {
  readonly bytes: Buffer;
  /** `sha256:<hex>` of bytes. */
  readonly digest: string;
  readonly manifest: PackManifest;
  readonly spec: PackSpec;
  readonly files: ReadonlyMap<string, Buffer>;
  readonly testsRun: number;
  readonly goldenRun: number;
  /**
   * The package and root entrypoints compiled besides the declared ones (path-entrypoints.ts):
   * empty when the pack's undeclared rules need what the embedded engine cannot compile or
   * provide (then only declared entrypoints are answered, as by packs built before them).
   */
  readonly paths: readonly string[];
}

type Built = Omit<BuiltPack, 'spec' | 'testsRun' | 'goldenRun' | 'paths'>;

/**
 * Compiles the stage to wasm with the declared entrypoints and the path entrypoints, re-packs it
 * and loads its engine (on the data text an agent gives it: assembleDataText, checked as an agent
 * checks it). When that fails, the declared entrypoints alone are compiled, so that no pack that
 * built before the path entrypoints fails now (an undeclared rule calling http.send, say); a
 * failure of that build is the pack's own. One opa run on the success path; `opa check` only to
 * turn a failure into file:line:col errors.
 */
async function compileWithPaths(
  opa: string,
  stage: string,
  what: {
    readonly sources: PolicySources;
    readonly spec: PackSpec;
    readonly limits: { readonly limits: PackLimits; readonly limitKeys: LimitKeys };
    readonly paths: readonly string[];
  },
  rel: (f: string) => string,
): Promise<{ built: Built; engine: WasmEngine | undefined; paths: readonly string[] }> {
  const { sources, spec, limits, paths } = what;
  // engine: opa packs are not loaded into the embedded engine (its builtins do not matter to them): engine undefined.
  const compile = async (paths: readonly string[]): Promise<{ built: Built; engine: WasmEngine | undefined }> => {
    const opaBundle = await opaBuildWasm(opa, stage, [...spec.entrypoints, ...paths], spec.rego_version);
    const built = await repack(opaBundle, sources, spec, limits);
    if (spec.engine === 'opa') return { built, engine: undefined };
    const engine = await loadWasmEngine(
      built.files.get('policy.wasm') ?? Buffer.alloc(0),
      assembleDataText(sources.data),
    );
    return { built, engine };
  };
  if (paths.length > 0) {
    try {
      return { ...(await compile(paths)), paths };
    } catch (err) {
      if (!isWardenError(err, 'PACK_COMPILE_FAILED') && !isWardenError(err, 'PACK_BUILTIN_UNSUPPORTED')) throw err;
    }
  }
  try {
    return { ...(await compile([])), paths: [] };
  } catch (err) {
    if (isWardenError(err, 'PACK_COMPILE_FAILED')) await opaCheck(opa, stage, spec.rego_version, rel);
    throw err;
  }
}

/** Builds the pack for a policy folder; throws a coded error on any failure. */
export async function buildPack(options: BuildOptions): Promise<BuiltPack> {
  const dir = resolve(options.dir);
  const limits = { limits: resolveLimits(options.limits), limitKeys: options.limitKeys ?? OPTION_LIMIT_KEYS };
  const spec = options.spec ?? (await readPackSpec(dir, options.fallbackSpec));
  const sources = options.sources ?? (await collectSources(dir, limits));
  const opa = locateOpa(options.opaPath).path;
  const now = options.now ?? new Date();
  const sequence = options.sequence ?? now.getTime();
  const dataDoc = assembleData(sources.data);

  const stage = await mkdtemp(join(tmpdir(), 'warden-build-'));
  try {
    const manifest = {
      revision: options.revision ?? spec.revision ?? `${spec.name}-${sequence}`,
      roots: spec.roots ?? defaultRoots(sources, dataDoc),
      ...(spec.rego_version === 'v0' ? { rego_version: 0 } : {}),
      metadata: {
        warden: {
          format: MARKER_FORMAT,
          pack: options.packName ?? spec.name,
          sequence,
          created_at: now.toISOString(),
          builder: `warden ${WARDEN_VERSION}`,
        },
      },
    };
    await stageFiles(stage, sources, manifest);
    const rel = (f: string): string => f.replace(/^\.\//, '');
    // opa compiles a rule that has two values for some input; certain conflicts are refused here.
    // The parse runs beside the build (it only reads the staged files); a compile error is reported first.
    const conflicts = checkRuleConflicts(opa, stage, [...sources.modules.keys()], spec.rego_version, rel);
    conflicts.catch(() => undefined);
    const paths = options.pathEntrypoints === false ? [] : pathEntrypoints(sources.modules.values(), spec.entrypoints);
    const compiled = await compileWithPaths(opa, stage, { sources, spec, limits, paths }, rel);
    await conflicts;
    const testsRun = await runTests(opa, stage, sources, spec, rel);
    const { built, engine } = compiled;
    if (engine === undefined) {
      // Written for the real OPA: its golden decisions are OPA's, and the embedded engine's builtins do not matter.
      await runGoldenAsync((entrypoint, input) => opaEvaluation(opa, stage, entrypoint, input, spec, rel), spec.golden);
    } else {
      await runGoldenExplained(engine, spec, opa, stage, rel);
    }
    if (options.out) {
      await mkdir(dirname(resolve(options.out)), { recursive: true });
      await writeFileAtomic(resolve(options.out), built.bytes);
    }
    return { ...built, spec, testsRun, goldenRun: spec.golden.length, paths: compiled.paths };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

// Writes the bundle folder opa builds from: modules, data, .manifest.
async function stageFiles(stage: string, sources: PolicySources, manifest: object): Promise<void> {
  for (const [rel, bytes] of [...sources.modules, ...sources.data]) {
    await mkdir(dirname(join(stage, rel)), { recursive: true });
    await writeFile(join(stage, rel), bytes);
  }
  await writeFile(join(stage, MANIFEST_PATH), JSON.stringify(manifest));
}

// Adds the `_test.rego` files to the (already compiled) stage and runs `opa test` there.
async function runTests(
  opa: string,
  stage: string,
  sources: PolicySources,
  spec: PackSpec,
  rel: (f: string) => string,
): Promise<number> {
  if (sources.tests.size === 0) return 0;
  for (const [path, bytes] of sources.tests) {
    await mkdir(dirname(join(stage, path)), { recursive: true });
    await writeFile(join(stage, path), bytes);
  }
  return opaTest(opa, stage, ['.'], spec.rego_version, rel);
}

// opa's own output, built from files already within the limits. Its data.json merges every data
// file, so it may be larger than any one of them: it is read without size limits.
const OPA_OUTPUT_LIMITS: Partial<PackLimits> = {
  maxCompressedBytes: Number.MAX_SAFE_INTEGER,
  maxUncompressedBytes: Number.MAX_SAFE_INTEGER,
  maxFileBytes: Number.MAX_SAFE_INTEGER,
  maxFiles: Number.MAX_SAFE_INTEGER,
};

// Takes policy.wasm and opa's manifest from opa's bundle; re-packs with sources and golden cases.
async function repack(
  opaBundle: Buffer,
  sources: PolicySources,
  spec: PackSpec,
  limits: { readonly limits: PackLimits; readonly limitKeys: LimitKeys },
): Promise<Built> {
  const opaFiles = await readPack(opaBundle, OPA_OUTPUT_LIMITS, { opaOutput: true });
  const wasm = opaFiles.get('policy.wasm');
  const manifestBytes = opaFiles.get(MANIFEST_PATH);
  if (!wasm || !manifestBytes) throw new WardenError('OPA_FAILED', 'opa build produced no policy.wasm or .manifest');
  const files = new Map<string, Buffer>([
    [MANIFEST_PATH, declaredManifest(manifestBytes, spec.entrypoints)],
    ['policy.wasm', wasm],
  ]);
  for (const [rel, bytes] of [...sources.modules, ...sources.data]) files.set(rel, bytes);
  if (spec.golden.length > 0) files.set(GOLDEN_PATH, Buffer.from(JSON.stringify(spec.golden, null, 2)));
  const tar = writeTar([...files].map(([path, data]) => ({ path, data })));
  checkFits(files, tar.length, limits);
  const bytes = gzipTar(tar);
  if (bytes.length > limits.limits.maxCompressedBytes) {
    throw overLimit('PACK_TOO_LARGE', 'the built pack is', {
      limit: 'maxCompressedBytes',
      value: limits.limits.maxCompressedBytes,
      actual: bytes.length,
      keys: limits.limitKeys,
      details: { size: bytes.length },
    });
  }
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { bytes, digest, manifest: parseManifest(files.get(MANIFEST_PATH)), files };
}

// Refuses, before compressing, a pack a reader with the same limits would refuse, as that reader
// would: the number of files, each file's size (policy.wasm is not a source: it was not checked
// yet) and the inflated size. (The compressed size is checked once compressed.)
function checkFits(
  files: ReadonlyMap<string, Buffer>,
  tarBytes: number,
  { limits, limitKeys: keys }: { readonly limits: PackLimits; readonly limitKeys: LimitKeys },
): void {
  if (files.size > limits.maxFiles) {
    throw overLimit('PACK_TOO_MANY_FILES', 'the built pack holds', {
      limit: 'maxFiles',
      value: limits.maxFiles,
      actual: files.size,
      keys,
    });
  }
  for (const [path, bytes] of files) {
    if (bytes.length > limits.maxFileBytes) {
      throw overLimit('PACK_FILE_TOO_LARGE', `pack file "${path}" is`, {
        limit: 'maxFileBytes',
        value: limits.maxFileBytes,
        actual: bytes.length,
        keys,
        details: { path, size: bytes.length },
      });
    }
  }
  if (tarBytes > limits.maxUncompressedBytes) {
    throw overLimit('PACK_UNCOMPRESSED_TOO_LARGE', 'the built pack inflates to', {
      limit: 'maxUncompressedBytes',
      value: limits.maxUncompressedBytes,
      actual: tarBytes,
      keys,
    });
  }
}

// opa's manifest as the pack keeps it: its wasm list names the declared entrypoints only (the path
// entrypoints are the engine's others; OPA serving the pack resolves only these through the module),
// and opa names wasm modules "/policy.wasm", the re-packed tar has no leading "/", so neither may the manifest.
function declaredManifest(bytes: Buffer, declared: readonly string[]): Buffer {
  const manifest = JSON.parse(bytes.toString('utf8')) as { wasm?: Array<{ entrypoint?: string; module: string }> };
  if (manifest.wasm) manifest.wasm = manifest.wasm.filter((w) => w.entrypoint && declared.includes(w.entrypoint));
  for (const w of manifest.wasm ?? []) w.module = w.module.replace(/^\/+/, '');
  return Buffer.from(JSON.stringify(manifest));
}

// Runs the golden cases on the wasm engine, one at a time so a failure names its case. Only
// then is the real opa spawned: topdown names the file:line of a conflict that opa-wasm does not.
async function runGoldenExplained(
  engine: WasmEngine,
  spec: PackSpec,
  opa: string,
  stage: string,
  rel: (f: string) => string,
): Promise<void> {
  for (const c of spec.golden) {
    try {
      runGolden(engine, [c]);
    } catch (err) {
      if (!isWardenError(err, 'PACK_GOLDEN_FAILED')) throw err;
      throw await explainGolden(err, c, { opa, stage, version: spec.rego_version, rel });
    }
  }
}

// One golden case through `opa eval` (engine: opa packs); OPA's errors fail it.
async function opaEvaluation(
  opa: string,
  stage: string,
  entrypoint: string,
  input: unknown,
  spec: PackSpec,
  rel: (f: string) => string,
): Promise<Evaluation> {
  const outcome = await opaEval(opa, stage, entrypoint, input, spec.rego_version, rel);
  if (outcome.kind === 'defined') return { defined: true, result: outcome.value };
  if (outcome.kind === 'undefined') return { defined: false };
  const first = outcome.errors[0];
  throw new WardenError('OPA_FAILED', first ? `${first.code}: ${first.message}` : 'opa eval failed');
}

// The golden failure with the errors `opa eval` reports for the same case over the stage added
// (message and details.file/line); the failure as it was if opa evaluates the case without error.
async function explainGolden(
  err: WardenError,
  c: GoldenCase,
  at: { opa: string; stage: string; version: RegoVersion; rel: (f: string) => string },
): Promise<WardenError> {
  let outcome: OpaEvalOutcome;
  try {
    outcome = await opaEval(at.opa, at.stage, c.entrypoint, c.input, at.version, at.rel);
  } catch {
    return err; // opa did not run to the end: the wasm engine's message is all there is
  }
  const first = outcome.kind === 'errors' ? outcome.errors[0] : undefined;
  if (outcome.kind !== 'errors' || !first) return err;
  const lines = outcome.errors.map(
    (e) =>
      `${[e.file, e.line, e.col].filter((p) => p !== undefined).join(':')}${e.file ? ': ' : ''}${e.code}: ${e.message}`,
  );
  return new WardenError('PACK_GOLDEN_FAILED', `${err.message}; opa eval: ${lines.join('; ')}`, {
    cause: err,
    details: {
      ...err.details,
      case: c.name,
      entrypoint: c.entrypoint,
      ...(first.file ? { file: first.file, line: first.line, col: first.col } : {}),
      opa_code: first.code,
      opa_message: first.message,
      opa_errors: lines,
    },
  });
}
