/**
 * `?pretty`: JSON text indented as OPA indents it (Go's `json.MarshalIndent` with two
 * spaces: `"key": value`, one member or element per line, `{}` and `[]` for empty ones,
 * and a final newline). It works on the text, never through JSON.parse, so numbers keep
 * their exact text (12345678901234567891, 1.0) and strings their exact escapes.
 */
import { closingQuote } from '../engine/json-member.js';

/** `text` (valid JSON) indented with two spaces per level, ending in a newline. */
export function indentJson(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = closingQuote(text, i);
      out += text.slice(i, end + 1);
      i = end;
    } else if (c === '{' || c === '[') {
      const next = nextToken(text, i + 1);
      if (text[next] === (c === '{' ? '}' : ']')) {
        out += c === '{' ? '{}' : '[]';
        i = next;
      } else out += `${c}\n${'  '.repeat(++depth)}`;
    } else if (c === '}' || c === ']') out += `\n${'  '.repeat(--depth)}${c}`;
    else if (c === ',') out += `,\n${'  '.repeat(depth)}`;
    else if (c === ':') out += ': ';
    else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') out += c;
  }
  return `${out}\n`;
}

// The index of the first non-whitespace character at or after `i`.
function nextToken(text: string, i: number): number {
  while (i < text.length && ' \n\r\t'.includes(text[i] ?? '')) i++;
  return i;
}
