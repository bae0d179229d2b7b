/**
 * Compares two data documents (as OPA mounts them) and names the deepest
 * paths that differ, and prints a document as stable, pretty JSON for the
 * line diff. Both walks are bounded in depth; the path lists in length.
 */
import { WardenError } from '../errors.js';
import type { JsonObject } from '../pack/data.js';

/** What differs between two sets of named things (modules, or data paths). */
export interface PathChanges {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

/** Most paths one list reports; the rest are summed up in a last "… and N more" entry. */
export const MAX_REPORTED_PATHS = 1000;
/** Deepest nesting compared; deeper data is refused rather than overflowing the stack. */
export const MAX_DATA_DEPTH = 256;

const MORE = /^… and (\d+) more$/;
// Keys shown bare in a path; any other key is shown as a JSON string, so "a.b" never reads as two keys.
const BARE_KEY = /^[^.[\]"'\s]+$/u;

/**
 * The deepest paths where `to` differs from `from`: a changed leaf (or a
 * value of another type), or the root of an added or removed subtree.
 * Arrays compare by index. Throws PACK_DATA_INVALID past MAX_DATA_DEPTH.
 */
export function diffData(from: JsonObject, to: JsonObject): PathChanges {
  const out = new PathLists();
  compare(from, to, '', 0, out);
  return out.finish();
}

/** How many paths a list stands for, counting those a "… and N more" entry sums up. */
export function countPaths(list: readonly string[]): number {
  const more = MORE.exec(list[list.length - 1] ?? '');
  return more === null ? list.length : list.length - 1 + Number(more[1]);
}

/** A path segment for an object key: bare, or quoted when it holds a dot or other punctuation. */
export function keySegment(path: string, key: string): string {
  const shown = BARE_KEY.test(key) ? key : JSON.stringify(key);
  return path === '' ? shown : `${path}.${shown}`;
}

/**
 * Pretty JSON (two-space indent) with keys sorted: integer-like keys first in
 * numeric order (JavaScript's own order for them), then the rest in code-unit
 * order. Ends in a newline. Throws PACK_DATA_INVALID when too deep to print.
 */
export function stableJson(value: unknown): string {
  try {
    // The replacer re-creates each object with sorted keys (3x faster than printing by hand).
    return `${JSON.stringify(value, (_key, v: unknown) => (isObject(v) ? sortedCopy(v) : v), 2)}\n`;
  } catch (err) {
    if (err instanceof RangeError)
      throw new WardenError('PACK_DATA_INVALID', 'the data document nests too deep to print', { cause: err });
    throw err;
  }
}

// Collects paths per kind, keeping the first MAX_REPORTED_PATHS and counting the rest.
class PathLists {
  private readonly lists = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
  private readonly over = { added: 0, removed: 0, changed: 0 };

  push(kind: keyof PathChanges, path: string): void {
    if (this.lists[kind].length < MAX_REPORTED_PATHS) this.lists[kind].push(path);
    else this.over[kind]++;
  }

  finish(): PathChanges {
    for (const kind of ['added', 'removed', 'changed'] as const) {
      if (this.over[kind] > 0) this.lists[kind].push(`… and ${this.over[kind]} more`);
    }
    return this.lists;
  }
}

// Walks both values in step, recording where they part.
function compare(a: unknown, b: unknown, path: string, depth: number, out: PathLists): void {
  if (depth > MAX_DATA_DEPTH) throw tooDeep(path);
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const at = keySegment(path, key);
      if (!Object.hasOwn(a, key)) out.push('added', at);
      else if (!Object.hasOwn(b, key)) out.push('removed', at);
      else compare(a[key], b[key], at, depth + 1, out);
    }
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const at = `${path}[${i}]`;
      if (i >= a.length) out.push('added', at);
      else if (i >= b.length) out.push('removed', at);
      else compare(a[i], b[i], at, depth + 1, out);
    }
  } else if (!(a === b || Object.is(a, b))) {
    out.push('changed', path);
  }
}

// The object with its own keys inserted in sorted order.
function sortedCopy(object: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.keys(object)
      .sort()
      .map((key) => [key, object[key]]),
  );
}

// True for a plain JSON object (not an array, not null).
function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The refusal for data nested past the limit.
function tooDeep(path: string): WardenError {
  return new WardenError(
    'PACK_DATA_INVALID',
    `the data document nests deeper than ${MAX_DATA_DEPTH} levels at ${path}`,
    {
      details: { limit: MAX_DATA_DEPTH, path },
    },
  );
}
