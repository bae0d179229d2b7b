/**
 * The JSON text the wasm engine is given, made here rather than inside
 * opa-wasm for two reasons:
 *  - A string holding a lone UTF-16 surrogate (`"\ud800"` in a request) is legal
 *    JSON that JavaScript keeps, but the engine's JSON parser refuses its escape
 *    ("illegal string escape character"). OPA decodes JSON with Go, which turns
 *    each lone surrogate into U+FFFD; so does this, so both answer alike.
 *  - opa-wasm skips any falsy input (`false`, `0`, `""`, `null`) as "no input";
 *    handing it the text keeps them.
 * The check costs one substring search when no surrogate escape is present.
 */

const encoder = new TextEncoder();

// A `\uD800`–`\uDFFF` escape that is not itself escaped (preceded by an even run of backslashes).
// JSON.stringify writes lone surrogates, and only those, as such escapes (lower-case hex).
const LONE_SURROGATE_ESCAPE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;

/** `value` as the engine's UTF-8 JSON input, or undefined for no input (undefined, a function). */
export function engineJson(value: unknown): ArrayBuffer | undefined {
  const text: string | undefined = JSON.stringify(value);
  if (text === undefined) return undefined;
  const clean = text.includes('\\ud') ? text.replace(LONE_SURROGATE_ESCAPE, '$1\ufffd') : text;
  return encoder.encode(clean).buffer;
}
