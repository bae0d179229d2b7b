/**
 * The ustar header block (field layout, checksum, numbers), pax records, and
 * the path rules that the tar reader and the tar writer share, so that the
 * writer can never produce a pack the reader would refuse.
 */
import { WardenError } from '../errors.js';

/** Size of a tar header block and the unit bodies are padded to. */
export const BLOCK = 512;

/** [offset, length] of each ustar header field. */
export const FIELD = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  type: [156, 1],
  magic: [257, 8], // "ustar\0" + version "00" (POSIX) or "ustar  \0" (GNU)
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

/** The parts of a header block the reader acts on. */
export interface TarHeader {
  /** Full path from the block (POSIX prefix joined in), before pax or long-name overrides. */
  readonly name: string;
  readonly size: number;
  /** The typeflag as one character; '\0' is an old-style regular file. */
  readonly type: string;
}

/** What a pax extended header ('x') overrides in the entry that follows it. */
export interface PaxOverrides {
  path?: string;
  size?: number;
}

const POSIX_MAGIC = Buffer.from('ustar\x0000', 'latin1');
const GNU_MAGIC = Buffer.from('ustar  \x00', 'latin1');

/** Parses one non-zero header block; throws PACK_MALFORMED on a bad checksum, magic or number. */
export function parseHeader(block: Buffer): TarHeader {
  const stored = readNumber(block, FIELD.checksum, 'checksum');
  if (stored !== checksumOf(block)) throw malformed('a tar header checksum does not match');
  const magic = field(block, FIELD.magic);
  const posix = magic.equals(POSIX_MAGIC);
  if (!posix && !magic.equals(GNU_MAGIC)) throw malformed('a tar header is not ustar or GNU format');
  const name = readString(block, FIELD.name);
  // Only POSIX ustar has a prefix; GNU format keeps atime/ctime at that offset.
  const prefix = posix ? readString(block, FIELD.prefix) : '';
  const type = String.fromCharCode(block[FIELD.type[0]] ?? 0);
  return { name: prefix === '' ? name : `${prefix}/${name}`, size: readNumber(block, FIELD.size, 'size'), type };
}

/** The header checksum: the byte sum of the block with the checksum field read as spaces. */
export function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] ?? 0;
  const [at, len] = FIELD.checksum;
  for (let i = at; i < at + len; i++) sum += 0x20 - (block[i] ?? 0);
  return sum;
}

/** Parses a pax extended header body ("LEN key=value\n" records); keeps only `path` and `size`. */
export function parsePax(body: Buffer, into: PaxOverrides): void {
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const lenText = space < 0 ? '' : body.toString('latin1', at, space);
    const end = at + Number(lenText);
    if (!/^[1-9]\d{0,7}$/.test(lenText) || end > body.length || body[end - 1] !== 0x0a) {
      throw malformed('a pax extended header record is malformed');
    }
    const record = body.toString('utf8', space + 1, end - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw malformed('a pax extended header record has no key');
    applyPaxRecord(record.slice(0, eq), record.slice(eq + 1), into);
    at = end;
  }
}

// Applies one pax record: path and size override the header, sparse maps are refused, others are ignored.
function applyPaxRecord(key: string, value: string, into: PaxOverrides): void {
  if (key.startsWith('GNU.sparse.')) {
    throw new WardenError('PACK_UNSAFE_ENTRY', 'the pack holds a GNU sparse file', { details: { key } });
  }
  if (key === 'path') {
    if (value === '')
      delete into.path; // an empty value unsets the keyword (POSIX pax)
    else into.path = value;
  } else if (key === 'size') {
    const size = Number(value);
    if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(size))
      throw malformed(`a pax size "${value}" is not a valid size`);
    into.size = size;
  }
}

// Reads a NUL-terminated string field; invalid UTF-8 becomes U+FFFD, which the path rules refuse.
function readString(block: Buffer, [at, len]: readonly [number, number]): string {
  const nul = block.indexOf(0, at);
  return block.toString('utf8', at, nul < 0 || nul > at + len ? at + len : nul);
}

// Reads an octal or GNU base-256 number field, refusing negative values and values past 2^53.
function readNumber(block: Buffer, [at, len]: readonly [number, number], what: string): number {
  const first = block[at] ?? 0;
  let value = 0;
  if (first & 0x80) {
    if (first & 0x40) throw malformed(`a tar header ${what} is negative`);
    value = first & 0x3f;
    for (let i = at + 1; i < at + len; i++) value = value * 256 + (block[i] ?? 0);
  } else {
    const digits = /^ *([0-7]*)[ \0]*$/.exec(block.toString('latin1', at, at + len))?.[1];
    if (digits === undefined) throw malformed(`a tar header ${what} is not an octal number`);
    value = digits === '' ? 0 : parseInt(digits, 8);
  }
  if (!Number.isSafeInteger(value)) throw malformed(`a tar header ${what} is absurdly large`);
  return value;
}

// Returns a view of one header field.
function field(block: Buffer, [at, len]: readonly [number, number]): Buffer {
  return block.subarray(at, at + len);
}

// A PACK_MALFORMED error with the given message.
function malformed(message: string): WardenError {
  return new WardenError('PACK_MALFORMED', message);
}

/** Quotes a path for an error message, escaping control characters and cutting very long ones. */
export function quote(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}…` : path);
}

/**
 * Returns the normal form of a raw tar path, or throws PACK_UNSAFE_PATH. Refuses
 * absolute paths, `.`/`..`/empty segments, backslashes, control characters and
 * invalid UTF-8; strips one leading "./" and, for directories, one trailing "/".
 * The root directory "./" normalises to "".
 */
export function normalisePackPath(raw: string, isDirectory: boolean, maxPathLength: number): string {
  const refuse = (why: string): WardenError =>
    new WardenError('PACK_UNSAFE_PATH', `unsafe path ${quote(raw)} in pack: ${why}`, {
      details: { path: raw, reason: why },
    });
  if (raw.startsWith('/')) throw refuse('absolute path');
  if (raw.includes('\\')) throw refuse('backslash');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\u0000-\u001f\u007f\ufffd]/.test(raw)) throw refuse('control character or invalid UTF-8');
  let path = raw.startsWith('./') ? raw.slice(2) : raw;
  if (isDirectory && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '' && isDirectory && raw === './') return '';
  for (const segment of path.split('/')) {
    if (segment === '') throw refuse('empty path segment');
    if (segment === '..' || segment === '.') throw refuse(`"${segment}" segment`);
  }
  if (path.length > maxPathLength) throw refuse(`longer than ${maxPathLength} characters`);
  return path;
}

/** Remembers the paths a pack has used, so that a second use of one is refused. */
export class PathClaims {
  readonly #files = new Set<string>();
  readonly #directories = new Set<string>();
  readonly #ancestors = new Set<string>();

  /** Records a normalised path; throws PACK_DUPLICATE_ENTRY if it was seen or is both file and directory. */
  claim(path: string, isDirectory: boolean): void {
    if (this.#files.has(path) || this.#directories.has(path) || (!isDirectory && this.#ancestors.has(path))) {
      throw duplicate(path);
    }
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      const ancestor = path.slice(0, slash);
      if (this.#files.has(ancestor)) throw duplicate(ancestor);
      this.#ancestors.add(ancestor);
    }
    (isDirectory ? this.#directories : this.#files).add(path);
  }
}

// A PACK_DUPLICATE_ENTRY error for `path`.
function duplicate(path: string): WardenError {
  return new WardenError(
    'PACK_DUPLICATE_ENTRY',
    `the pack holds ${quote(path)} more than once (as a file or a directory)`,
    {
      details: { path },
    },
  );
}
