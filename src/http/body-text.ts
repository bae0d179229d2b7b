/**
 * The text of each request's JSON body, kept beside the parsed value: the data
 * API hands the engine the client's input exactly as written (src/engine/json-member.ts).
 */

const texts = new WeakMap<object, string>();

/** Keeps `text` as the body text of `request`. */
export function keepBodyText(request: object, text: string): void {
  texts.set(request, text);
}

/** The body text of `request`, if it had a JSON body. */
export function bodyTextOf(request: object): string | undefined {
  return texts.get(request);
}
