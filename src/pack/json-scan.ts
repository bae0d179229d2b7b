/**
 * Checks that bytes are one JSON text (RFC 8259, exactly what JSON.parse accepts) without
 * building any value: a data file handed to the engine as text is checked here, because the
 * engine's own parser accepts things JSON does not (`{"a":1}x`, `[1 2]`, `[1,]`), and a
 * mounted file's bytes are wrapped in `{"a":{"b": … }}` where such text could add keys.
 *
 * Measured on a 10.5 MB data.json of 100,000 users (bench/activation.bench.ts's): this scan
 * takes ~25 ms where JSON.parse takes ~300 ms (it builds every object and string); the
 * engine's parser then takes ~800 ms either way. One pass, a byte at a time, no recursion
 * (nesting is a stack of bytes), no allocation but that stack.
 */

/** What scanJson found. */
export type JsonScan =
  | {
      readonly ok: true;
      /** The first value is an object (`{`). */
      readonly object: boolean;
      /** A `\uD800`–`\uDFFF` escape occurs (paired or lone): the text may need surrogateFree. */
      readonly surrogateEscapes: boolean;
    }
  | {
      readonly ok: false;
      /** Byte offset of the error. */
      readonly at: number;
      /** What was wrong, e.g. "unexpected character 'x'". */
      readonly reason: string;
    };

// Byte values.
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

// 1 for the characters a backslash may precede in a JSON string (besides `u`): " \ / b f n r t.
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

// The value of a hexadecimal digit, or 255.
const HEX = new Uint8Array(256).fill(255);
for (let d = 0; d < 16; d++) {
  HEX['0123456789abcdef'.charCodeAt(d)] = d;
  HEX['0123456789ABCDEF'.charCodeAt(d)] = d;
}

// Thrown inside the scan (only on the error path), turned into the result by scanJson.
class Invalid extends Error {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Scans `b` as one JSON text. */
export function scanJson(b: Uint8Array): JsonScan {
  try {
    return scan(b);
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, at: err.at, reason: err.reason };
    throw err;
  }
}

// Where the scanner is: expecting a value, or after one (then the container decides).
const VALUE = 0;
const AFTER = 1;

function scan(b: Uint8Array): JsonScan {
  const n = b.length;
  let stack = new Uint8Array(64); // OPEN_OBJECT or OPEN_ARRAY per open container
  let depth = 0;
  let surrogates = false;
  let i = skipWs(b, 0);
  if (i >= n) throw new Invalid(i, 'no JSON value (the file is empty)');
  const object = b[i] === OPEN_OBJECT;
  let state = VALUE;
  for (;;) {
    if (state === VALUE) {
      i = skipWs(b, i);
      const c = b[i];
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (depth === stack.length) {
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[depth++] = c;
        i = skipWs(b, i + 1);
        if (b[i] === (c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          depth--;
          i++;
          state = AFTER;
        } else if (c === OPEN_OBJECT) {
          i = key(b, i);
          if (i < 0) {
            surrogates = true;
            i = -i;
          }
        }
        // else: an array's first value, still in state VALUE
      } else if (c === QUOTE) {
        i = string(b, i);
        if (i < 0) {
          surrogates = true;
          i = -i;
        }
        state = AFTER;
      } else if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) {
        i = number(b, i);
        state = AFTER;
      } else if (c === 0x74) {
        i = literal(b, i, 'true');
        state = AFTER;
      } else if (c === 0x66) {
        i = literal(b, i, 'false');
        state = AFTER;
      } else if (c === 0x6e) {
        i = literal(b, i, 'null');
        state = AFTER;
      } else {
        throw unexpected(b, i);
      }
    } else {
      i = skipWs(b, i);
      if (depth === 0) {
        if (i < n) throw new Invalid(i, `unexpected ${describe(b, i)} after the JSON value`);
        return { ok: true, object, surrogateEscapes: surrogates };
      }
      const c = b[i];
      const top = stack[depth - 1];
      if (c === COMMA) {
        i = skipWs(b, i + 1);
        if (top === OPEN_OBJECT) {
          i = key(b, i);
          if (i < 0) {
            surrogates = true;
            i = -i;
          }
        }
        state = VALUE;
      } else if (c === (top === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        depth--;
        i++;
      } else {
        throw unexpected(b, i);
      }
    }
  }
}

// Reads `"key" :` at i (after whitespace); returns the offset after the colon, negated when
// the key held a surrogate escape.
function key(b: Uint8Array, i: number): number {
  if (b[i] !== QUOTE) throw unexpected(b, i, 'a string key');
  let end = string(b, i);
  const negated = end < 0;
  if (negated) end = -end;
  end = skipWs(b, end);
  if (b[end] !== COLON) throw unexpected(b, end, "':'");
  return negated ? -(end + 1) : end + 1;
}

// Reads a string starting at its opening quote; returns the offset after the closing quote,
// negated when it held a `\uD800`–`\uDFFF` escape (an offset is never 0 here).
function string(b: Uint8Array, start: number): number {
  const n = b.length;
  let surrogate = false;
  let i = start + 1;
  for (;;) {
    if (i >= n) throw new Invalid(start, 'unterminated string');
    const c = b[i] as number;
    if (c === QUOTE) return surrogate ? -(i + 1) : i + 1;
    if (c === BACKSLASH) {
      const e = b[i + 1];
      if (e === 0x75) {
        const h0 = HEX[b[i + 2] ?? 0] as number;
        const h1 = HEX[b[i + 3] ?? 0] as number;
        if (h0 === 255 || h1 === 255 || HEX[b[i + 4] ?? 0] === 255 || HEX[b[i + 5] ?? 0] === 255) {
          throw new Invalid(i, 'bad \\u escape (four hex digits expected)');
        }
        if (h0 === 0xd && h1 >= 8) surrogate = true;
        i += 6;
      } else if (e !== undefined && SIMPLE_ESCAPE[e] === 1) {
        i += 2;
      } else {
        throw new Invalid(i, 'bad escape in a string');
      }
    } else if (c < SPACE) {
      throw new Invalid(i, 'control character in a string (must be escaped)');
    } else {
      i++;
    }
  }
}

// Reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
function number(b: Uint8Array, start: number): number {
  let i = start;
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else throw new Invalid(i, 'bad number');
  if (b[i] === DOT) {
    i++;
    if (!isDigit(b[i])) throw new Invalid(i, 'bad number (digits expected after ".")');
    while (isDigit(b[i])) i++;
  }
  if (b[i] === LOWER_E || b[i] === UPPER_E) {
    i++;
    if (b[i] === PLUS || b[i] === MINUS) i++;
    if (!isDigit(b[i])) throw new Invalid(i, 'bad number (digits expected in the exponent)');
    while (isDigit(b[i])) i++;
  }
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

function literal(b: Uint8Array, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) {
    if (b[i + k] !== word.charCodeAt(k)) throw unexpected(b, i + k);
  }
  return i + word.length;
}

function skipWs(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === SPACE || c === LF || c === CR || c === TAB) c = b[++i];
  return i;
}

function unexpected(b: Uint8Array, i: number, wanted?: string): Invalid {
  return new Invalid(i, `unexpected ${describe(b, i)}${wanted ? `, ${wanted} expected` : ''}`);
}

function describe(b: Uint8Array, i: number): string {
  const c = b[i];
  if (c === undefined) return 'end of the file';
  return c >= SPACE && c < 0x7f ? `character '${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** "line L column C" of a byte offset (columns count bytes), for messages. */
export function lineColumn(b: Uint8Array, at: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = b.indexOf(LF); i !== -1 && i < at; i = b.indexOf(LF, i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line} column ${at - lineStart + 1}`;
}
