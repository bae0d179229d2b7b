/**
 * Assembles the pack's data document the way OPA does: every `data.json` /
 * `data.yaml` is mounted at the path of its folder.
 */
import { parse as parseYaml } from 'yaml';
import { WardenError, messageOf } from '../errors.js';

/** A JSON object. */
export type JsonObject = { [key: string]: unknown };

const DATA_FILES = new Set(['data.json', 'data.yaml', 'data.yml']);

/** True for a path OPA loads as data. */
export function isDataFile(path: string): boolean {
  return DATA_FILES.has(path.split('/').pop() ?? '');
}

/** Parses one data file; it must hold a JSON object. */
export function parseDataFile(path: string, bytes: Uint8Array): JsonObject {
  const text = Buffer.from(bytes).toString('utf8');
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new WardenError('PACK_DATA_INVALID', `${path}: ${messageOf(err)}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new WardenError('PACK_DATA_INVALID', `${path}: the top level must be an object`);
  }
  return value as JsonObject;
}

/** Merges all data files of a pack into one document. */
export function assembleData(files: ReadonlyMap<string, Uint8Array>): JsonObject {
  const root: JsonObject = {};
  for (const [path, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (!isDataFile(path)) continue;
    const segments = path.split('/').slice(0, -1);
    mergeInto(mountPoint(root, segments, path), parseDataFile(path, bytes), path);
  }
  return root;
}

// Walks (creating) the objects along segments and returns the last one.
function mountPoint(root: JsonObject, segments: string[], path: string): JsonObject {
  let node = root;
  for (const s of segments) {
    const next = node[s] ?? (node[s] = {});
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new WardenError('PACK_DATA_INVALID', `${path}: conflicts with a non-object value at ${segments.join('.')}`);
    }
    node = next as JsonObject;
  }
  return node;
}

// Adds every key of src to dst; the same key from two files is a conflict, as in OPA.
function mergeInto(dst: JsonObject, src: JsonObject, path: string): void {
  for (const [k, v] of Object.entries(src)) {
    if (k in dst)
      throw new WardenError('PACK_DATA_INVALID', `${path}: key "${k}" is also defined by another data file`);
    dst[k] = v;
  }
}
