/**
 * How deeply a JSON text nests, checked before anything recursive sees it: the
 * engine evaluates input with a recursive parser and runs out of stack a few
 * thousand levels down, which must be the client's 400, never a 5xx. A linear
 * scan with no recursion, skipped outright for a text too short to be that deep.
 */
import { closingQuote } from '../engine/json-member.js';

/** True when `text` (valid JSON) nests arrays and objects more than `limit` levels deep. */
export function jsonDeeperThan(text: string, limit: number): boolean {
  // Every level takes an opening and a closing bracket.
  if (text.length < 2 * (limit + 1)) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = closingQuote(text, i);
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
