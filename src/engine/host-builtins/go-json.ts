/**
 * Go's json.Marshal of a JSON value given as text, as OPA writes a value it
 * serialises (io.jwt.encode_sign's header and payload): object keys sorted by
 * their UTF-8 bytes, no whitespace, numbers exactly as written, strings with Go's
 * escapes (`<`, `>`, `&`, U+2028 and U+2029 as \u escapes; a lone surrogate as U+FFFD).
 * The text must be valid JSON (the engine's own).
 */

/** `text` (valid JSON) as Go's json.Marshal writes the value. */
export function goMarshal(text: string): string {
  const [out] = value(text, skip(text, 0));
  return out;
}

function value(t: string, i: number): [string, number] {
  const c = t[i];
  if (c === '{') {
    const members: Array<[string, string]> = [];
    i = skip(t, i + 1);
    while (t[i] !== '}') {
      const [key, afterKey] = rawString(t, i);
      const [v, afterValue] = value(t, skip(t, skip(t, afterKey) + 1));
      members.push([JSON.parse(key) as string, v]);
      i = skip(t, afterValue);
      if (t[i] === ',') i = skip(t, i + 1);
    }
    members.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return [`{${members.map(([k, v]) => `${goString(k)}:${v}`).join(',')}}`, i + 1];
  }
  if (c === '[') {
    const items: string[] = [];
    i = skip(t, i + 1);
    while (t[i] !== ']') {
      const [v, after] = value(t, i);
      items.push(v);
      i = skip(t, after);
      if (t[i] === ',') i = skip(t, i + 1);
    }
    return [`[${items.join(',')}]`, i + 1];
  }
  if (c === '"') {
    const [s, after] = rawString(t, i);
    return [goString(JSON.parse(s) as string), after];
  }
  let j = i;
  while (j < t.length && !',]} \n\r\t'.includes(t[j] as string)) j++;
  return [t.slice(i, j), j];
}

const SHORT: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** A string as Go's encoding/json writes it (HTML-safe). */
export function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    const short = SHORT[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || ch === '<' || ch === '>' || ch === '&' || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

function rawString(t: string, i: number): [string, number] {
  let j = i + 1;
  while (t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
  return [t.slice(i, j + 1), j + 1];
}

function skip(t: string, i: number): number {
  while (i < t.length && ' \n\r\t'.includes(t[i] as string)) i++;
  return i;
}
