/**
 * Assembles the pack's data document the way OPA does: every `data.json` /
 * `data.yaml` is mounted at the path of its folder. Two forms: the document as
 * JavaScript values (assembleData: the build, diffs), and as the UTF-8 JSON text
 * the engine parses (assembleDataText: activation), composed from the files' own
 * bytes so that a big data.json is never parsed into JavaScript objects.
 */
import { isUtf8 } from 'node:buffer';
import { parse as parseYaml } from 'yaml';
import { engineJson } from '../engine/json-text.js';
import { WardenError, messageOf } from '../errors.js';
import { lineColumn, scanJson } from './json-scan.js';

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

/**
 * The data document as UTF-8 JSON text for the engine (loadWasmEngine), equal in meaning to
 * assembleData's. When no data file's folder contains another's (the common case: one root
 * data.json) and every file is JSON, the text is composed from the files' bytes: each file
 * is wrapped in `{"a":{"b": … }}` by its folder path, siblings joined with commas; one root
 * data.json is its own bytes. Each file is checked first (scanJson, ~10x cheaper than
 * JSON.parse): invalid JSON or a top level that is not an object is PACK_DATA_INVALID naming
 * the file and the line and column. As OPA's Go decoder does, invalid UTF-8 and lone
 * UTF-16 surrogate escapes (`\ud800`, either case) become U+FFFD (the engine refuses both).
 * YAML files and mounts inside another file's folder (whose keys must be merged and checked
 * for conflicts) fall back to assembleData, then engineJson.
 */
export function assembleDataText(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const mounts = [...files]
    .filter(([path]) => isDataFile(path))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, bytes]) => ({ path, bytes, folder: path.split('/').slice(0, -1) }));
  if (mounts.length === 0) return new TextEncoder().encode('{}');
  if (mounts.some((m) => !m.path.endsWith('.json')) || overlapping(mounts.map((m) => m.folder))) {
    return new Uint8Array(engineJson(assembleData(files)) ?? new ArrayBuffer(0));
  }
  const root: MountNode = new Map();
  for (const m of mounts) {
    let node = root;
    for (const segment of m.folder.slice(0, -1)) {
      let next = node.get(segment);
      if (!(next instanceof Map)) node.set(segment, (next = new Map()));
      node = next;
    }
    const leaf = dataFileText(m.path, m.bytes);
    if (m.folder.length === 0) return leaf; // the only mount: the root data.json
    node.set(m.folder[m.folder.length - 1] ?? '', leaf);
  }
  const parts: Uint8Array[] = [];
  compose(root, parts);
  return Buffer.concat(parts);
}

// A folder of mounts: child folder name → its mounts, or a data file's checked text.
type MountNode = Map<string, MountNode | Uint8Array>;

// True when a folder is another's or inside it (the root contains every folder).
function overlapping(folders: readonly string[][]): boolean {
  const keys = folders.map((f) => f.map((s) => `${s}/`).join('')).sort();
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i] ?? '').startsWith(keys[i - 1] ?? '')) return true;
  }
  return false;
}

const OPEN = Buffer.from('{');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from('}');

// Appends the JSON text of a folder of mounts: `{"name":<text>,…}`.
function compose(node: MountNode, parts: Uint8Array[]): void {
  parts.push(OPEN);
  let first = true;
  for (const [name, child] of node) {
    if (!first) parts.push(COMMA);
    first = false;
    parts.push(Buffer.from(`${JSON.stringify(name)}:`));
    if (child instanceof Map) compose(child, parts);
    else parts.push(child);
  }
  parts.push(CLOSE);
}

// Lone surrogate escapes (not preceded by an odd run of backslashes); a high one followed by
// a low one is a pair, kept. Only strings hold backslashes in checked JSON.
const SURROGATE_ESCAPE = /(?<!\\)((?:\\\\)*)(\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|\\ud[89a-f][0-9a-f]{2})/gi;

// One data.json's bytes checked and made engine-ready: the bytes themselves when they are
// valid UTF-8 JSON with no surrogate escape, else a cleaned copy. Throws PACK_DATA_INVALID.
function dataFileText(path: string, bytes: Uint8Array): Uint8Array {
  const scan = scanJson(bytes);
  if (!scan.ok) {
    throw new WardenError('PACK_DATA_INVALID', `${path}: ${scan.reason} at ${lineColumn(bytes, scan.at)}`, {
      details: { file: path, offset: scan.at },
    });
  }
  if (!scan.object) throw new WardenError('PACK_DATA_INVALID', `${path}: the top level must be an object`);
  if (!scan.surrogateEscapes && isUtf8(bytes)) return bytes;
  // Rare: decoding replaces invalid UTF-8 with U+FFFD; lone surrogate escapes become U+FFFD too.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const clean = scan.surrogateEscapes
    ? text.replace(
        SURROGATE_ESCAPE,
        (_m, run: string, escape: string) => run + (escape.length === 12 ? escape : '\ufffd'),
      )
    : text;
  return Buffer.from(clean, 'utf8');
}
