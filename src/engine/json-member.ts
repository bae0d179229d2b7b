/**
 * The exact text of one member of a JSON object body: what `{"input": …}` holds,
 * handed to the engine as the client wrote it (no JavaScript number in between,
 * so 12345678901234567891 stays that integer). A linear scan of the top level
 * that skips nested values by their brackets and strings by their quotes; the
 * text must already be valid JSON (the body parser checked it).
 */

/** The text of the last member named `key` of the JSON object `text` (as JSON.parse keeps the last), or undefined. */
export function memberText(text: string, key: string): string | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  let found: string | undefined;
  i = skipSpace(text, i + 1);
  while (i < text.length && text.charCodeAt(i) === 0x22) {
    const keyEnd = closingQuote(text, i);
    const name = text.slice(i + 1, keyEnd);
    // A key with escapes is compared decoded ("\u0069nput" is "input").
    const matches = name.includes('\\') ? (JSON.parse(text.slice(i, keyEnd + 1)) as string) === key : name === key;
    i = skipSpace(text, keyEnd + 1) + 1; // past the colon
    const start = skipSpace(text, i);
    const end = valueEnd(text, start);
    if (matches) found = text.slice(start, end);
    i = skipSpace(text, end);
    if (text.charCodeAt(i) === 0x2c) i = skipSpace(text, i + 1);
  }
  return found;
}

/** The index just past the JSON value starting at `start` (valid JSON text). */
export function valueEnd(text: string, start: number): number {
  const c = text.charCodeAt(start);
  if (c === 0x22) return closingQuote(text, start) + 1;
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d === 0x22) i = closingQuote(text, i);
      else if (d === 0x7b || d === 0x5b) depth++;
      else if ((d === 0x7d || d === 0x5d) && --depth === 0) return i + 1;
    }
    return text.length;
  }
  // A number or a literal: up to the next delimiter.
  let i = start;
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    i++;
  }
  return i;
}

/** The index of the quote that closes the string opened at `open` (one not escaped by an odd run of backslashes). */
export function closingQuote(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  while (q > 0) {
    let slashes = 0;
    for (let j = q - 1; text.charCodeAt(j) === 0x5c; j--) slashes++;
    if (slashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return text.length;
}

/** The index of the first non-whitespace character at or after `i`. */
export function skipSpace(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}
