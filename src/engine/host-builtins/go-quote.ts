/**
 * Go's strconv quoting (Quote, QuoteToASCII, QuoteRune, QuoteRuneToASCII,
 * CanBackquote, IsPrint), as fmt's %q uses it and as OPA writes a string inside
 * a composite value. Strings are taken as code points; a lone surrogate (which a
 * JSON string can spell but UTF-8 cannot hold) is Go's U+FFFD.
 */

const MAX_RUNE = 0x10ffff;
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(r: number): boolean {
  if (r === 0x20) return true;
  if (r < 0x20 || r === 0x7f || r > MAX_RUNE || (r >= 0xd800 && r <= 0xdfff)) return false;
  return PRINTABLE.test(String.fromCodePoint(r));
}

/** The code points of `s`, with lone surrogates as U+FFFD. */
export function runes(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const r = ch.codePointAt(0) as number;
    out.push(r >= 0xd800 && r <= 0xdfff ? 0xfffd : r);
  }
  return out;
}

const hex4 = (r: number, width: number): string => r.toString(16).padStart(width, '0');

function escapedRune(r: number, quote: number, asciiOnly: boolean): string {
  if (r === quote || r === 0x5c) return `\\${String.fromCodePoint(r)}`;
  if (asciiOnly ? r < 0x80 && isPrint(r) : isPrint(r)) return String.fromCodePoint(r);
  switch (r) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return `\\x${hex4(r, 2)}`;
  const valid = r <= MAX_RUNE && !(r >= 0xd800 && r <= 0xdfff);
  const v = valid ? r : 0xfffd;
  return v < 0x10000 ? `\\u${hex4(v, 4)}` : `\\U${hex4(v, 8)}`;
}

/** strconv.Quote (asciiOnly: QuoteToASCII). */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const r of runes(s)) out += escapedRune(r, 0x22, asciiOnly);
  return `${out}"`;
}

/** strconv.QuoteRune (asciiOnly: QuoteRuneToASCII); an invalid rune is U+FFFD. */
export function goQuoteRune(r: number, asciiOnly = false): string {
  const valid = r >= 0 && r <= MAX_RUNE && !(r >= 0xd800 && r <= 0xdfff);
  return `'${escapedRune(valid ? r : 0xfffd, 0x27, asciiOnly)}'`;
}

/** strconv.CanBackquote: no control character but tab, no backquote, no BOM. */
export function canBackquote(s: string): boolean {
  for (const r of runes(s)) {
    if (r === 0xfeff) return false;
    if ((r < 0x20 && r !== 0x09) || r === 0x60 || r === 0x7f) return false;
  }
  return true;
}
