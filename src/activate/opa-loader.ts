/**
 * Loads a verified pack into a real OPA (engine: opa). The pack's Rego and data
 * become an OPA bundle (no policy.wasm), which OPA pulls from Warden's loopback
 * bundle endpoint; the load resolves only once OPA itself reports that bundle's
 * revision active (the acknowledgement), and after the pack's golden decisions
 * pass through OPA. A refusal anywhere gives OPA back the bundle of the pack
 * Warden still has active, so OPA and Warden never disagree for longer than
 * one delivery. docs/architecture.md#the-opa-engine.
 */
import type { Counter } from 'prom-client';
import type { Engine, EvaluateOptions, OpaEngine, RemoteEvaluation } from '../engine/engine.js';
import type { Evaluation } from '../engine/wasm.js';
import { WardenError, isWardenError, messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { GOLDEN_PATH, manifestEntrypoints } from '../pack/manifest.js';
import { runGoldenAsync } from '../pack/golden.js';
import { parseGolden } from './load-engine.js';
import type { EngineLoader } from './prepare.js';

/** The OPA process as the loader needs it (src/opa-engine/sidecar.ts). */
export interface OpaDelivery {
  /** Makes `bundle` the one OPA holds for `pack`; resolves when OPA reports `revision` active. */
  deliver(pack: string, bundle: Buffer, revision: string): Promise<void>;
  /** data/<path> on input JSON text: the result's JSON text, or undefined. */
  evaluate(
    path: string,
    inputJson: string | undefined,
    timeoutMs: number,
    options?: EvaluateOptions,
  ): Promise<string | undefined>;
}

/** What a decision past its timeout gets. */
export interface OpaTimeoutPolicy {
  readonly timeoutMs: number;
  readonly action: 'fail_closed' | 'fail_open';
  /** fail_open: the answer by decision path; a path without one fails closed. */
  readonly failOpen: Readonly<Record<string, unknown>>;
}

/** Everything the loader of one pack needs. */
export interface OpaLoaderOptions {
  readonly pack: string;
  readonly opa: OpaDelivery;
  /** Warden pack files → OPA bundle tar.gz, with `revision` in its manifest. */
  readonly bundleOf: (files: ReadonlyMap<string, Uint8Array>, revision: string, roots: readonly string[]) => Buffer;
  readonly timeout: OpaTimeoutPolicy;
  /** The pack's active engine right now (the activator's), to give OPA back after a refusal. */
  readonly current: () => Engine | undefined;
  readonly timeouts: Counter<'pack' | 'action'>;
  readonly failures: Counter<'pack' | 'code'>;
  readonly log: Logger;
}

/** A loaded OPA engine's bundle, to re-deliver it. */
interface Delivered {
  readonly bundle: Buffer;
  readonly revision: string;
}

/** The EngineLoader of a pack with engine: opa. */
export function opaEngineLoader(o: OpaLoaderOptions): EngineLoader {
  const bundles = new WeakMap<OpaEngine, Delivered>();
  // The engine whose bundle OPA was last given.
  let held: OpaEngine | undefined;

  const deliver = async (engine: OpaEngine, d: Delivered): Promise<void> => {
    held = engine;
    await o.opa.deliver(o.pack, d.bundle, d.revision);
  };

  // Gives OPA back the active pack's bundle when it holds another one.
  const restore = (): void => {
    const active = o.current();
    if (active?.kind !== 'opa' || held === active) return;
    const d = bundles.get(active);
    if (!d) return;
    deliver(active, d).catch((err: unknown) =>
      o.log.error({ pack: o.pack, err: messageOf(err) }, 'OPA did not take back the active bundle'),
    );
  };

  return async (_pack, files, manifest) => {
    const entrypoints = manifestEntrypoints(manifest);
    // The OPA revision is Warden's revision plus the signed sequence: unique per pack version (sequences
    // only grow), so that OPA reporting it active can only mean this pack.
    const revision = `${manifest.revision}@${manifest.metadata.warden.sequence}`;
    const golden = parseGolden(files.get(GOLDEN_PATH));
    const engine: OpaEngine = {
      kind: 'opa',
      entrypoints,
      answersAnyPath: true,
      evaluateJsonAsync: (path, inputJson, options) => evaluate(o, path, inputJson, options),
      release: restore,
    };
    const delivered: Delivered = { bundle: o.bundleOf(files, revision, manifest.roots), revision };
    bundles.set(engine, delivered);
    try {
      await deliver(engine, delivered);
      await runGoldenAsync((entrypoint, input) => evaluateParsed(o, entrypoint, input), golden);
    } catch (err) {
      o.failures.inc({ pack: o.pack, code: isWardenError(err) ? err.code : 'OPA_FAILED' });
      restore();
      throw err;
    }
    return { engine, goldenRun: golden.length };
  };
}

// One decision in OPA, timed; past the timeout, the configured action.
async function evaluate(
  o: OpaLoaderOptions,
  path: string,
  inputJson: string | undefined,
  options: EvaluateOptions = {},
): Promise<RemoteEvaluation> {
  const started = process.hrtime.bigint();
  try {
    const resultJson = await o.opa.evaluate(path, inputJson, o.timeout.timeoutMs, options);
    return { resultJson, ns: Number(process.hrtime.bigint() - started) };
  } catch (err) {
    if (!isWardenError(err) || err.code !== 'OPA_DECISION_TIMEOUT') throw err;
    const open = o.timeout.action === 'fail_open' && Object.hasOwn(o.timeout.failOpen, path);
    o.timeouts.inc({ pack: o.pack, action: open ? 'fail_open' : 'fail_closed' });
    if (!open) throw err;
    return { resultJson: JSON.stringify(o.timeout.failOpen[path]), ns: Number(process.hrtime.bigint() - started) };
  }
}

// A golden case's evaluation: parsed, no timeout action (a slow golden decision refuses the pack).
async function evaluateParsed(o: OpaLoaderOptions, path: string, input: unknown): Promise<Evaluation> {
  let inputJson: string;
  try {
    inputJson = JSON.stringify(input);
  } catch (err) {
    throw new WardenError('PACK_GOLDEN_FAILED', `a golden input is not JSON: ${messageOf(err)}`);
  }
  const text = await o.opa.evaluate(path, inputJson, Math.max(o.timeout.timeoutMs, 10_000));
  return text === undefined ? { defined: false } : { defined: true, result: JSON.parse(text) as unknown };
}
