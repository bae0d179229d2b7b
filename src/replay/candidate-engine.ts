/**
 * Asks a candidate pack a recorded question as the agent would answer it: a
 * declared entrypoint is evaluated as is; any other data path the pack owns is
 * planned as the decider plans it (decide/path-plan.ts: the longest compiled
 * entrypoint above it, the rest walked in its result). A path the pack does not
 * own (another pack's, or one above the pack's roots, which an agent answers by
 * merging several packs) is out of scope: there is nothing to compare.
 */
import type { Candidate } from '../activate/prepare.js';
import type { ActivePack } from '../activate/types.js';
import { isObject, walkJson } from '../decide/json-walk.js';
import { planPath, segmentsOf } from '../decide/path-plan.js';
import { requireLocal } from '../engine/engine.js';
import type { WasmEngine } from '../engine/wasm.js';
import { toWardenError } from '../errors.js';
import type { Answer } from './compare.js';

/** A loaded candidate that answers recorded decisions. */
export class CandidateEngine {
  readonly #active: ActivePack;
  readonly #engine: WasmEngine;
  readonly #declared: ReadonlySet<string>;

  constructor(candidate: Candidate, origin: string) {
    const marker = candidate.manifest.metadata.warden;
    this.#active = {
      name: marker.pack,
      digest: candidate.digest,
      number: undefined,
      revision: candidate.revision,
      sequence: candidate.sequence,
      entrypoints: candidate.entrypoints,
      roots: candidate.manifest.roots,
      engine: candidate.engine,
      signer: candidate.signer,
      origin,
      activatedAt: new Date(),
    };
    this.#engine = requireLocal(candidate.engine, marker.pack);
    this.#declared = new Set(candidate.entrypoints);
  }

  /** Whether the pack answers `path` (it is declared, or lies under one of the pack's roots). */
  owns(path: string): boolean {
    if (this.#declared.has(path)) return true;
    const segs = segmentsOf(path);
    return this.#active.roots.some((r) => {
      const root = segmentsOf(r);
      return root.length <= segs.length && root.every((s, i) => s === segs[i]);
    });
  }

  /** The candidate's answer to `path` on input text (an owned path); a failed evaluation is an error answer. */
  answer(path: string, inputJson: string): Answer {
    try {
      const text = this.#declared.has(path)
        ? this.#engine.evaluateJson(path, inputJson)
        : this.#planned(path, inputJson);
      return text === undefined ? { kind: 'undefined' } : { kind: 'value', json: text };
    } catch (err) {
      return {
        kind: 'error',
        code: isStackOverflow(err) ? 'INPUT_TOO_DEEP' : toWardenError(err, 'DECISION_FAILED').code,
      };
    }
  }

  #planned(path: string, inputJson: string): string | undefined {
    const plan = planPath(path, [this.#active]);
    const part = plan.parts[0];
    if (part === undefined) return undefined;
    const text = this.#engine.evaluateJson(part.entrypoint, inputJson);
    const value = text === undefined ? undefined : walkJson(text, part.rest);
    // Above the pack's roots (an --entrypoint asked for it): the pack's object, as the decider merges it.
    return value !== undefined && plan.merge && !isObject(value) ? undefined : value;
  }
}

function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}
