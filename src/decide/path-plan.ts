/**
 * How a data path that no pack declares as an entrypoint is answered, as
 * `opa run --server` answers it (the declared ones never come here: the
 * router's Map answers them first).
 *
 * - A pack owns the path when one of its roots is the path or a prefix of it
 *   (the first configured such pack). Its engine evaluates the longest of its
 *   entrypoints that is the path or a prefix of it (a declared rule, a package,
 *   the data root: pack/path-entrypoints.ts), and the rest of the path is walked
 *   in that result (json-walk.ts); nothing there is undefined.
 * - Else the packs whose roots lie under the path (`/v1/data`, a parent
 *   package shared by packs) each give their value at the path, and the
 *   objects are merged: the object OPA assembles from every bundle.
 * - No pack at all: undefined, as OPA answers a path nothing defines.
 *
 * An engine that answersAnyPath is handed the path itself.
 */
import type { ActivePack } from '../activate/types.js';
import { WardenError } from '../errors.js';

/** One evaluation of a plan: this pack's `entrypoint`, then `rest` walked in its result. */
export interface PathPart {
  readonly active: ActivePack;
  readonly entrypoint: string;
  readonly rest: readonly string[];
}

/** The parts answering a path: none (undefined), one (its owner), or several to merge. */
export interface PathPlan {
  readonly parts: readonly PathPart[];
  /** True when the parts' objects are merged (the path lies above several packs' roots). */
  readonly merge: boolean;
}

const compiled = new WeakMap<object, ReadonlySet<string>>();

/** The path's segments (`a/b` → [a, b]; `` → []). */
export function segmentsOf(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** The plan for `path` over the active packs, in configured order. DECISION_PATH_UNKNOWN when a pack cannot answer it. */
export function planPath(path: string, actives: readonly ActivePack[]): PathPlan {
  const segs = segmentsOf(path);
  const owner = actives.find((a) => a.roots.some((r) => isPrefix(segmentsOf(r), segs)));
  if (owner) return { parts: [partOf(owner, segs, path)], merge: false };
  const under = actives.filter((a) => a.roots.some((r) => isPrefix(segs, segmentsOf(r))));
  return { parts: under.map((a) => partOf(a, segs, path)), merge: true };
}

// The pack's longest entrypoint that is a prefix of segs, and the segments left to walk.
function partOf(active: ActivePack, segs: readonly string[], path: string): PathPart {
  if (active.engine.answersAnyPath) return { active, entrypoint: segs.join('/'), rest: [] };
  const entrypoints = entrypointSet(active);
  for (let i = segs.length; i >= 0; i--) {
    const entrypoint = segs.slice(0, i).join('/');
    if (entrypoints.has(entrypoint)) return { active, entrypoint, rest: segs.slice(i) };
  }
  throw new WardenError(
    'DECISION_PATH_UNKNOWN',
    `pack ${active.name} (revision ${active.revision}) answers only its declared entrypoints, not "${path}": it was built without package entrypoints; rebuild it with this Warden`,
    { details: { pack: active.name, known: [...active.entrypoints].sort() } },
  );
}

// The engine's compiled entrypoints, as a set, once per engine.
function entrypointSet(active: ActivePack): ReadonlySet<string> {
  let set = compiled.get(active.engine);
  if (!set) {
    set = new Set(active.engine.entrypoints);
    compiled.set(active.engine, set);
  }
  return set;
}

// Whether `prefix` is `of` or a prefix of it, segment by segment.
function isPrefix(prefix: readonly string[], of: readonly string[]): boolean {
  return prefix.length <= of.length && prefix.every((s, i) => s === of[i]);
}
