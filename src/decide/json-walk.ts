/**
 * Walking and merging the engine's JSON text without parsing it into
 * JavaScript values: the members and elements are sliced out of the text, so a
 * number stays exactly as the engine wrote it (12345678901234567891, 1.0).
 * The text must be valid JSON (the engine's output).
 */
import { closingQuote, skipSpace, valueEnd } from '../engine/json-member.js';

/** The value at `segments` inside the JSON text (object keys; array indexes in decimal), or undefined. */
export function walkJson(text: string, segments: readonly string[]): string | undefined {
  let start = skipSpace(text, 0);
  let end = valueEnd(text, start);
  for (const seg of segments) {
    const c = text.charCodeAt(start);
    let found: [number, number] | undefined;
    if (c === 0x7b) {
      for (const m of members(text, start)) if (m.key === seg) found = [m.start, m.end];
    } else if (c === 0x5b && /^(0|[1-9]\d{0,9})$/.test(seg)) {
      let n = Number(seg);
      for (const e of elements(text, start)) if (n-- === 0) found = e;
    }
    if (!found) return undefined;
    [start, end] = found;
  }
  return text.slice(start, end);
}

/**
 * One JSON object from several: the members of each, the first text's value winning a key that
 * another text has too, unless both values are objects, which are merged the same way. Keys are
 * written in sorted order, as OPA writes an object. Every text must be an object.
 */
export function mergeJsonObjects(texts: readonly string[]): string {
  const byKey = new Map<string, string[]>();
  for (const text of texts) {
    for (const m of members(text, skipSpace(text, 0))) {
      const value = text.slice(m.start, m.end);
      const have = byKey.get(m.key);
      if (!have) byKey.set(m.key, [value]);
      else if (isObject(have[0] ?? '') && isObject(value)) have.push(value);
    }
  }
  const keys = [...byKey.keys()].sort();
  return `{${keys
    .map((k) => {
      const values = byKey.get(k) ?? [];
      return `${JSON.stringify(k)}:${values.length > 1 ? mergeJsonObjects(values) : (values[0] ?? 'null')}`;
    })
    .join(',')}}`;
}

/** Whether the JSON text is an object. */
export function isObject(text: string): boolean {
  return text.charCodeAt(skipSpace(text, 0)) === 0x7b;
}

interface Member {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}

// The members of the object opening at `open`: decoded key, value span.
function* members(text: string, open: number): Generator<Member> {
  let i = skipSpace(text, open + 1);
  while (text.charCodeAt(i) === 0x22) {
    const keyEnd = closingQuote(text, i);
    const raw = text.slice(i + 1, keyEnd);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(i, keyEnd + 1)) as string) : raw;
    i = skipSpace(text, keyEnd + 1) + 1; // past the colon
    const start = skipSpace(text, i);
    const end = valueEnd(text, start);
    yield { key, start, end };
    i = skipSpace(text, end);
    if (text.charCodeAt(i) === 0x2c) i = skipSpace(text, i + 1);
  }
}

// The spans of the elements of the array opening at `open`.
function* elements(text: string, open: number): Generator<[number, number]> {
  let i = skipSpace(text, open + 1);
  while (i < text.length && text.charCodeAt(i) !== 0x5d) {
    const end = valueEnd(text, i);
    yield [i, end];
    i = skipSpace(text, end);
    if (text.charCodeAt(i) === 0x2c) i = skipSpace(text, i + 1);
  }
}
