/**
 * Seeded fuzz material for HTTP request bodies: a small PRNG (mulberry32), one
 * independent stream per case (so case i can be rebuilt without the cases
 * before it), and a writer of raw JSON text. Bodies are built as bytes, not
 * with JSON.stringify, so escapes (`\ud800`), raw non-BMP characters and
 * invalid UTF-8 byte sequences reach the server exactly as written.
 */

/** A deterministic generator of numbers in [0, 1) (mulberry32). */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }

  /** One key of `weights`, with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    let r = this.next() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [key, w] of entries) {
      r -= w;
      if (r < 0) return key;
    }
    const last = entries[entries.length - 1];
    if (last === undefined) throw new RangeError('weighted pick from no weights');
    return last[0];
  }
}

/** The stream of case `index` under `seed`: independent of every other case's. */
export function caseRng(seed: number, index: number): Rng {
  // splitmix32-style mix of (seed, index), so neighbouring cases do not share a prefix.
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

/** Bytes being assembled: text (written as UTF-8) and raw byte runs. */
export class RawBody {
  readonly #parts: Buffer[] = [];
  /** Text not yet encoded: encoding once per run of text, not once per piece, keeps generation cheap. */
  #pending = '';
  #length = 0;

  /** Appends text as UTF-8. */
  text(s: string): this {
    this.#pending += s;
    return this;
  }

  /** Appends bytes verbatim (they need not be valid UTF-8). */
  bytes(b: Buffer): this {
    this.#flush();
    this.#parts.push(b);
    this.#length += b.length;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length + Buffer.byteLength(this.#pending, 'utf8');
  }

  toBuffer(): Buffer {
    this.#flush();
    return Buffer.concat(this.#parts, this.#length);
  }

  #flush(): void {
    if (this.#pending === '') return;
    const b = Buffer.from(this.#pending, 'utf8');
    this.#pending = '';
    this.#parts.push(b);
    this.#length += b.length;
  }
}

/** JSON string escapes, including the ones a careless decoder trips on. */
export const ESCAPES = [
  '\\"',
  '\\\\',
  '\\/',
  '\\b',
  '\\f',
  '\\n',
  '\\r',
  '\\t',
  '\\u0000',
  '\\u0001',
  '\\u001f',
  '\\u007f',
  '\\u0085',
  '\\u2028',
  '\\u2029',
  '\\ufeff',
  '\\ufffe',
  '\\uffff',
  '\\ud800',
  '\\udbff',
  '\\udc00',
  '\\udfff',
  '\\uD83D\\uDE00',
  '\\udfff\\ud800',
  '\\ud800\\u0041',
  '\\ud800\\ud800',
] as const;

/** Raw characters written as UTF-8: multi-byte, non-BMP, separators JavaScript once treated as newlines. */
export const RAW_CHARS = [
  'é',
  'ß',
  '中文',
  '😀',
  '𝄞',
  '\u{10ffff}',
  '\u2028',
  '\u2029',
  '\u00a0',
  '\u200b',
  '\u0301',
  '\u007f',
] as const;

/** Byte sequences that are not UTF-8: stray continuation, overlong, CESU-8 surrogates, truncated, past U+10FFFF. */
export const INVALID_UTF8: readonly Buffer[] = [
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xc3, 0x28],
].map((b) => Buffer.from(b));

/** Number texts: valid JSON at the edges of doubles and integers, then text JSON forbids. */
export const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '42',
  '3.14',
  '-0.0',
  '1e400',
  '-1e400',
  '1e-400',
  '1E+2',
  '2e-7',
  '12345678901234567891',
  '-12345678901234567891',
  '9007199254740993',
  '1.7976931348623157e308',
  '5e-324',
  '0.1',
  '123456789012345678901234567890e10',
  `${'9'.repeat(400)}`,
  `0.${'0'.repeat(400)}1`,
] as const;
const BAD_NUMBERS = ['01', '+1', '.5', '1.', 'NaN', 'Infinity', '-Infinity', '0x10', '1e', '--1', '1_000'] as const;

/** Object keys: ordinary, ones the policies read, and ones with meaning to JavaScript. */
export const KEYS = [
  'a',
  'input',
  'user',
  'roles',
  'tenant',
  'action',
  'resource',
  'name',
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '0',
  'tenant ',
  'Tenant',
] as const;

/** Options of the JSON writer. */
export interface JsonOptions {
  /** How many more levels may nest. */
  readonly depth: number;
  /** Chance per string piece of raw invalid UTF-8 bytes. */
  readonly invalidUtf8: number;
  /** Chance per value of text that is not JSON (a raw control character, a bad number, a bad escape). */
  readonly notJson: number;
}

export const DEFAULT_JSON: JsonOptions = { depth: 5, invalidUtf8: 0.01, notJson: 0.004 };

/** Writes JSON whitespace (sometimes none, sometimes odd but legal). */
export function space(rng: Rng, out: RawBody): void {
  if (rng.chance(0.9)) return;
  out.text(rng.pick([' ', '\t', '\n', '\r\n', '  \n\t ']));
}

/** Writes a JSON string of random pieces. */
export function writeString(rng: Rng, out: RawBody, o: JsonOptions = DEFAULT_JSON): void {
  out.text('"');
  const pieces = rng.chance(0.3) ? 0 : 1 + rng.int(rng.chance(0.1) ? 40 : 6);
  for (let i = 0; i < pieces; i++) {
    const kind = rng.weighted({ word: 6, escape: 3, raw: 2, invalid: 100 * o.invalidUtf8, control: 100 * o.notJson });
    switch (kind) {
      case 'word':
        out.text(
          rng.pick([
            'acme',
            'globex',
            'admin',
            'read',
            'x',
            'a b',
            'billing',
            "it's",
            '%s',
            '%v',
            '{{',
            '$(',
            '<script>',
            'DROP TABLE',
            '../..',
          ]),
        );
        break;
      case 'escape':
        out.text(rng.pick(ESCAPES));
        break;
      case 'raw':
        out.text(rng.pick(RAW_CHARS));
        break;
      case 'invalid':
        out.bytes(rng.pick(INVALID_UTF8));
        break;
      case 'control': // raw control characters are not allowed inside JSON strings, nor are unknown escapes
        out.bytes(
          Buffer.from(rng.pick([[0x00], [0x01], [0x0a], [0x1f], [0x5c, 0x78, 0x34, 0x31], [0x5c, 0x75, 0x31, 0x32]])),
        );
        break;
      default: {
        const unreachable: never = kind;
        throw new Error(`no piece ${String(unreachable)}`);
      }
    }
  }
  // A high surrogate as the very last thing in a string.
  if (rng.chance(0.05)) out.text(rng.pick(['\\ud800', '\\uD83D', '\\udbff']));
  out.text('"');
}

/** Writes one number text. */
export function writeNumber(rng: Rng, out: RawBody, o: JsonOptions = DEFAULT_JSON): void {
  if (rng.chance(o.notJson)) out.text(rng.pick(BAD_NUMBERS));
  else if (rng.chance(0.5)) out.text(rng.pick(NUMBERS));
  else out.text(String(rng.chance(0.5) ? rng.int(2000) - 1000 : (rng.next() - 0.5) * 10 ** rng.int(30)));
}

/** Writes a random JSON value. */
export function writeValue(rng: Rng, out: RawBody, o: JsonOptions = DEFAULT_JSON): void {
  space(rng, out);
  const nest = o.depth > 0;
  const kind = rng.weighted({ null: 1, bool: 1, number: 3, string: 5, array: nest ? 2 : 0, object: nest ? 3 : 0 });
  switch (kind) {
    case 'null':
      out.text('null');
      break;
    case 'bool':
      out.text(rng.chance(0.5) ? 'true' : 'false');
      break;
    case 'number':
      writeNumber(rng, out, o);
      break;
    case 'string':
      writeString(rng, out, o);
      break;
    case 'array': {
      const n = rng.int(rng.chance(0.05) ? 50 : 5);
      const inner = { ...o, depth: o.depth - 1 };
      out.text('[');
      for (let i = 0; i < n; i++) {
        if (i > 0) out.text(',');
        writeValue(rng, out, inner);
      }
      space(rng, out);
      out.text(']');
      break;
    }
    case 'object': {
      const n = rng.int(rng.chance(0.05) ? 30 : 5);
      const inner = { ...o, depth: o.depth - 1 };
      out.text('{');
      for (let i = 0; i < n; i++) {
        if (i > 0) out.text(',');
        space(rng, out);
        if (rng.chance(0.6)) out.text(JSON.stringify(rng.pick(KEYS)));
        else writeString(rng, out, o);
        space(rng, out);
        out.text(':');
        writeValue(rng, out, inner);
      }
      space(rng, out);
      out.text('}');
      break;
    }
    default: {
      const unreachable: never = kind;
      throw new Error(`no value ${String(unreachable)}`);
    }
  }
  space(rng, out);
}

/** Writes `value` nested `depth` levels deep in arrays, objects, or both alternating. */
export function writeDeep(out: RawBody, depth: number, shape: 'array' | 'object' | 'mixed', leaf = '1'): void {
  const open = { array: '[', object: '{"a":', mixed: '[{"a":' }[shape];
  const close = { array: ']', object: '}', mixed: '}]' }[shape];
  const levels = shape === 'mixed' ? Math.ceil(depth / 2) : depth;
  out.text(open.repeat(levels)).text(leaf).text(close.repeat(levels));
}

/** Bytes shown as a JavaScript string literal that `Buffer.from(literal, 'latin1')` turns back into them, cut at `max` bytes. */
export function showBytes(bytes: Buffer, max = 300): string {
  let s = '';
  for (const b of bytes.subarray(0, max)) {
    if (b === 0x5c) s += '\\\\';
    else if (b === 0x22) s += '\\"';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${s}"${bytes.length > max ? ` … (${bytes.length} bytes in all)` : ''}`;
}
