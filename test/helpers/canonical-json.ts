/**
 * JSON text in canonical form with every number kept as written: objects'
 * keys sorted, no whitespace, numbers and strings byte for byte. For comparing
 * two engines' answers exactly, where JSON.parse would round big integers.
 * `orderedJson` is the same with object keys left in the order written, for
 * comparing the order too.
 */

/** `text` (valid JSON) with sorted keys and no insignificant whitespace; numbers unchanged. */
export function canonicalJson(text: string): string {
  return normalised(text, true);
}

/** `text` (valid JSON) without insignificant whitespace, strings re-encoded, keys in the order written. */
export function orderedJson(text: string): string {
  return normalised(text, false);
}

function normalised(text: string, sortKeys: boolean): string {
  const [out, end] = value(text, skip(text, 0), sortKeys);
  if (skip(text, end) !== text.length) throw new Error(`trailing text at ${end}`);
  return out;
}

/**
 * The canonical text of each member of the JSON object `text`, by key; with
 * `sortKeys: false`, each member's objects keep their keys in the order written.
 */
export function canonicalMembers(text: string, { sortKeys = true }: { sortKeys?: boolean } = {}): Map<string, string> {
  const out = new Map<string, string>();
  let i = skip(text, 0);
  if (text[i] !== '{') throw new Error('not an object');
  i = skip(text, i + 1);
  while (text[i] !== '}') {
    const [key, afterKey] = string(text, i);
    const [v, afterValue] = value(text, skip(text, skip(text, afterKey) + 1), sortKeys);
    out.set(JSON.parse(key) as string, v);
    i = skip(text, afterValue);
    if (text[i] === ',') i = skip(text, i + 1);
  }
  return out;
}

function value(t: string, i: number, sortKeys: boolean): [string, number] {
  const c = t[i];
  if (c === '{') {
    const members: Array<[string, string]> = [];
    i = skip(t, i + 1);
    while (t[i] !== '}') {
      const [key, afterKey] = string(t, i);
      const [v, afterValue] = value(t, skip(t, skip(t, afterKey) + 1), sortKeys);
      members.push([JSON.stringify(JSON.parse(key) as string), v]);
      i = skip(t, afterValue);
      if (t[i] === ',') i = skip(t, i + 1);
    }
    if (sortKeys)
      members.sort(([a], [b]) => {
        const ka = JSON.parse(a) as string;
        const kb = JSON.parse(b) as string;
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    return [`{${members.map(([k, v]) => `${k}:${v}`).join(',')}}`, i + 1];
  }
  if (c === '[') {
    const items: string[] = [];
    i = skip(t, i + 1);
    while (t[i] !== ']') {
      const [v, after] = value(t, i, sortKeys);
      items.push(v);
      i = skip(t, after);
      if (t[i] === ',') i = skip(t, i + 1);
    }
    return [`[${items.join(',')}]`, i + 1];
  }
  if (c === '"') {
    const [s, after] = string(t, i);
    // Re-encode so that equal strings written with different escapes compare equal.
    return [JSON.stringify(JSON.parse(s) as string), after];
  }
  const m = /^(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)/.exec(t.slice(i, i + 4096));
  if (!m?.[1]) throw new Error(`unexpected JSON at ${i}: ${t.slice(i, i + 20)}`);
  return [m[1], i + m[1].length];
}

function string(t: string, i: number): [string, number] {
  let j = i + 1;
  while (t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
  return [t.slice(i, j + 1), j + 1];
}

function skip(t: string, i: number): number {
  while (i < t.length && ' \n\r\t'.includes(t[i] as string)) i++;
  return i;
}
