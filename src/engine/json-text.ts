/**
 * The JSON text the wasm engine is given. Two things differ from what a
 * JavaScript value or a client's body would give it as is:
 *  - A string holding a lone UTF-16 surrogate (`"\ud800"` in a request) is legal
 *    JSON, but the engine's JSON parser refuses its escape ("illegal string
 *    escape character"). OPA decodes JSON with Go, which turns each lone
 *    surrogate into U+FFFD; so does this, so both answer alike. An escaped pair
 *    (`"\ud83d\ude00"`) is one character and is kept.
 *  - opa-wasm skips any falsy input (`false`, `0`, `""`, `null`) as "no input";
 *    handing it the text keeps them.
 * The check costs one substring search when no surrogate escape is present.
 */

const encoder = new TextEncoder();

// A `\uD800`–`\uDFFF` escape, with the run of backslashes before it (an even run escapes
// only itself, so the escape is real when the run is odd).
const SURROGATE_ESCAPE = /(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})/g;

/** `value` as the engine's JSON text, or undefined for no input (undefined, a function). */
export function engineJsonText(value: unknown): string | undefined {
  const text: string | undefined = JSON.stringify(value);
  return text === undefined ? undefined : engineText(text);
}

/** `value` as the engine's UTF-8 JSON, or undefined for no input (undefined, a function). */
export function engineJson(value: unknown): ArrayBuffer | undefined {
  const text = engineJsonText(value);
  return text === undefined ? undefined : encoder.encode(text).buffer;
}

/**
 * A JSON text (a client's body, a data file) as the engine can take it: each
 * escape of a lone surrogate replaced by U+FFFD, everything else byte for byte.
 */
export function engineText(text: string): string {
  if (!text.includes('\\u') || !/\\u[dD][89a-fA-F]/.test(text)) return text;
  return text.replace(SURROGATE_ESCAPE, (match: string, slashes: string, hex: string, at: number) => {
    if (slashes.length % 2 === 0) return match;
    const unit = parseInt(hex, 16);
    const end = at + match.length;
    if (unit < 0xdc00) {
      // A high surrogate is kept when a low one follows at once.
      return /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(text.slice(end, end + 6)) ? match : `${slashes.slice(1)}\ufffd`;
    }
    // A low surrogate is kept when a real high-surrogate escape is just before it.
    const before = text.slice(Math.max(0, at - 6), at);
    const paired = /^\\u[dD][89abAB][0-9a-fA-F]{2}$/.test(before) && oddRunEndsAt(text, at - 6);
    return paired ? match : `${slashes.slice(1)}\ufffd`;
  });
}

// True when the backslash at `i` starts a real escape (it is preceded by an even run of backslashes).
function oddRunEndsAt(text: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && text.charCodeAt(j) === 0x5c; j--) n++;
  return n % 2 === 0;
}
