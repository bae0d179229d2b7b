/**
 * urlquery.encode, urlquery.decode, urlquery.encode_object and urlquery.decode_object,
 * as OPA computes them with Go's net/url (v1/topdown/encoding.go): QueryEscape
 * escapes every byte of the UTF-8 string but A-Z a-z 0-9 - _ . ~ (space as "+", the
 * rest %XX in upper case; encodeURIComponent leaves ! ' ( ) * alone, Go does not);
 * QueryUnescape refuses a "%" without two hex digits; ParseQuery splits on "&",
 * refuses ";", and keeps every value of a key in order; Values.Encode sorts keys by
 * their bytes.
 */
import { goBytesToString } from './go-bytes.js';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(c)) out += c;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);

/** Go's url.QueryUnescape; throws on a bad escape. */
export function queryUnescape(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25) {
      const h = String.fromCharCode(bytes[i + 1] ?? 0x20, bytes[i + 2] ?? 0x20);
      if (i + 2 >= bytes.length || !isHex(h[0]) || !isHex(h[1])) throw new BuiltinCallError('invalid URL escape');
      out.push(parseInt(h, 16));
      i += 2;
    } else out.push(b === 0x2b ? 0x20 : b);
  }
  return goBytesToString(Uint8Array.from(out));
}

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export const urlqueryBuiltins: Record<string, HostBuiltin> = {
  'urlquery.encode': ([a]) => JSON.stringify(queryEscape(stringArg(a, 1))),
  'urlquery.decode': ([a]) => JSON.stringify(queryUnescape(stringArg(a, 1))),
  'urlquery.encode_object': ([a]) => {
    const obj = a?.value;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new BuiltinCallError('operand 1 must be object');
    }
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort(byBytes)) {
      const v = (obj as Record<string, unknown>)[key];
      const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
      if (values === undefined || values.some((x) => typeof x !== 'string')) {
        throw new BuiltinCallError('operand 1: values must be string, array[string], or set[string]');
      }
      for (const value of values as string[]) parts.push(`${queryEscape(key)}=${queryEscape(value)}`);
    }
    return JSON.stringify(parts.join('&'));
  },
  'urlquery.decode_object': ([a]) => {
    const query = stringArg(a, 1);
    const out = new Map<string, string[]>();
    let failed = false;
    for (const pair of query.split('&')) {
      if (pair.includes(';')) {
        failed = true;
        continue;
      }
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      try {
        const key = queryUnescape(eq < 0 ? pair : pair.slice(0, eq));
        const value = queryUnescape(eq < 0 ? '' : pair.slice(eq + 1));
        out.set(key, [...(out.get(key) ?? []), value]);
      } catch {
        failed = true;
      }
    }
    // Go's ParseQuery reads every pair but reports the first error, and OPA fails on it.
    if (failed) throw new BuiltinCallError('invalid query');
    return `{${[...out].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
  },
};
