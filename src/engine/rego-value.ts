/**
 * The engine's answer in OPA's order. The wasm engine writes a set as a JSON
 * array in its own (insertion) order and an object's keys in theirs; OPA's
 * server sorts both: a set's members by OPA's ordering of values, an object's
 * keys as strings. So the engine is asked for its value notation (sets as
 * `{a, b}`, the empty set as `set()`), and this rewrites that as JSON with sets
 * and keys sorted. Numbers and strings are copied as written: exact.
 *
 * OPA's ordering of values: null < booleans (false < true) < numbers (by value)
 * < strings (by UTF-8 bytes) < arrays < objects < sets; arrays and sets compare
 * member by member, then by length; objects by their sorted keys, then values.
 */

/** A parsed value: kind, its JSON text once written, and what ordering needs. */
export type Value =
  | { readonly k: 0; readonly json: 'null' }
  | { readonly k: 1; readonly json: string; readonly b: boolean }
  | { readonly k: 2; readonly json: string }
  | { readonly k: 3; readonly json: string; readonly s: string }
  | { readonly k: 6 | 8; readonly json: string; readonly items: readonly Value[] }
  | { readonly k: 7; readonly json: string; readonly entries: ReadonlyArray<readonly [Value & { k: 3 }, Value]> };

/** `text` (the engine's value notation) as JSON with sets and object keys in OPA's order. */
export function valueNotationToJson(text: string): string {
  return parseValueNotation(text).json;
}

/** `text` (the engine's value notation) parsed, with sets and object keys in OPA's order. */
export function parseValueNotation(text: string): Value {
  return new Parser(text).value();
}

class Parser {
  #i = 0;
  constructor(private readonly t: string) {}

  value(): Value {
    this.#space();
    const c = this.t.charCodeAt(this.#i);
    if (c === 0x22) return this.#string();
    if (c === 0x5b) return this.#array();
    if (c === 0x7b) return this.#braces();
    if (this.t.startsWith('set()', this.#i)) {
      this.#i += 5;
      return { k: 8, json: '[]', items: [] };
    }
    if (this.t.startsWith('null', this.#i)) {
      this.#i += 4;
      return { k: 0, json: 'null' };
    }
    if (this.t.startsWith('true', this.#i)) {
      this.#i += 4;
      return { k: 1, json: 'true', b: true };
    }
    if (this.t.startsWith('false', this.#i)) {
      this.#i += 5;
      return { k: 1, json: 'false', b: false };
    }
    const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(this.t.slice(this.#i, this.#i + 4096));
    if (!m) throw new Error(`unexpected engine output at ${this.#i}: ${this.t.slice(this.#i, this.#i + 20)}`);
    this.#i += m[0].length;
    return { k: 2, json: m[0] };
  }

  #string(): Value & { k: 3 } {
    const start = this.#i;
    let j = start + 1;
    while (this.t.charCodeAt(j) !== 0x22) j += this.t.charCodeAt(j) === 0x5c ? 2 : 1;
    this.#i = j + 1;
    const json = this.t.slice(start, j + 1);
    return { k: 3, json, s: json.includes('\\') ? (JSON.parse(json) as string) : json.slice(1, -1) };
  }

  #array(): Value {
    const items = this.#members(0x5d);
    return { k: 6, json: `[${items.map((v) => v.json).join(',')}]`, items };
  }

  // `{…}`: an object when its first member is followed by a colon, else a set.
  #braces(): Value {
    this.#i++;
    this.#space();
    if (this.t.charCodeAt(this.#i) === 0x7d) {
      this.#i++;
      return { k: 7, json: '{}', entries: [] };
    }
    const first = this.value();
    this.#space();
    if (this.t.charCodeAt(this.#i) !== 0x3a) {
      const items = [first, ...this.#rest(0x7d)].sort(compare);
      return { k: 8, json: `[${items.map((v) => v.json).join(',')}]`, items };
    }
    const entries: Array<readonly [Value & { k: 3 }, Value]> = [];
    let key = first;
    for (;;) {
      if (key.k !== 3) throw new Error('an object key the engine wrote is not a string');
      this.#i++; // the colon
      entries.push([key, this.value()]);
      this.#space();
      if (this.t.charCodeAt(this.#i) === 0x7d) break;
      this.#i++; // the comma
      key = this.value();
      this.#space();
    }
    this.#i++;
    entries.sort(([a], [b]) => compareStrings(a.s, b.s));
    return { k: 7, json: `{${entries.map(([k, v]) => `${k.json}:${v.json}`).join(',')}}`, entries };
  }

  // The members of `[…]` up to the closing `close`.
  #members(close: number): Value[] {
    this.#i++;
    this.#space();
    if (this.t.charCodeAt(this.#i) === close) {
      this.#i++;
      return [];
    }
    return [this.value(), ...this.#rest(close)];
  }

  // After a first member: `, member` … up to and past `close`.
  #rest(close: number): Value[] {
    const out: Value[] = [];
    for (;;) {
      this.#space();
      const c = this.t.charCodeAt(this.#i++);
      if (c === close) return out;
      out.push(this.value());
    }
  }

  #space(): void {
    while (this.t.charCodeAt(this.#i) === 0x20 || this.t.charCodeAt(this.#i) === 0x0a) this.#i++;
  }
}

/** OPA's ordering of two values. */
export function compare(a: Value, b: Value): number {
  if (a.k !== b.k) return a.k - b.k;
  switch (a.k) {
    case 0:
      return 0;
    case 1:
      return Number(a.b) - Number((b as typeof a).b);
    case 2:
      return compareNumbers(a.json, b.json);
    case 3:
      return compareStrings(a.s, (b as typeof a).s);
    case 6:
    case 8:
      return compareLists(a.items, (b as typeof a).items);
    case 7: {
      const be = (b as typeof a).entries;
      for (let i = 0; i < Math.min(a.entries.length, be.length); i++) {
        const [ak, av] = a.entries[i] as readonly [Value, Value];
        const [bk, bv] = be[i] as readonly [Value, Value];
        const c = compare(ak, bk) || compare(av, bv);
        if (c !== 0) return c;
      }
      return a.entries.length - be.length;
    }
  }
}

function compareLists(a: readonly Value[], b: readonly Value[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compare(a[i] as Value, b[i] as Value);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const utf8 = new TextEncoder();
const SURROGATE = /[\ud800-\udfff]/;

/** Go's string order: by UTF-8 bytes (JavaScript's < compares UTF-16 units, which differs above U+FFFF). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : 1;
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}

/** Two JSON numbers compared exactly, by value (`1.0` equals `1`, `1e3` equals `1000`). */
export function compareNumbers(a: string, b: string): number {
  const x = decimal(a);
  const y = decimal(b);
  if (x.sign !== y.sign) return x.sign - y.sign;
  if (x.sign === 0) return 0;
  // Same sign: compare magnitudes (more integer digits = larger), then digit by digit.
  const m = x.exp !== y.exp ? x.exp - y.exp : compareDigits(x.digits, y.digits);
  return x.sign * Math.sign(m);
}

// A number as sign, significant digits d1d2… and exponent e, meaning 0.d1d2… × 10^e.
function decimal(text: string): { sign: number; digits: string; exp: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return { sign: 0, digits: '', exp: 0 };
  const whole = (m[2] ?? '') + (m[3] ?? '');
  const lead = whole.search(/[1-9]/);
  if (lead < 0) return { sign: 0, digits: '', exp: 0 };
  const digits = whole.slice(lead).replace(/0+$/, '');
  const exp = (m[2] ?? '').length - lead + Number(m[4] ?? 0);
  return { sign: m[1] === '-' ? -1 : 1, digits, exp };
}

function compareDigits(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  const x = a.padEnd(n, '0');
  const y = b.padEnd(n, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}
