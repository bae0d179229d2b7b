/**
 * Go strings are bytes: a builtin that makes a string from arbitrary bytes (a
 * percent-decoded query, hex.decode) gives OPA a string that may not be UTF-8,
 * which OPA writes out with each invalid byte as U+FFFD (Go's utf8.DecodeRune
 * reads an invalid sequence one byte at a time). TextDecoder replaces WHATWG's way
 * (one U+FFFD per maximal invalid prefix), so the bytes are decoded here as Go does.
 */

// The second byte's range for each lead byte with a narrower one than 80-BF.
function secondRange(lead: number): [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

// The length of the UTF-8 sequence at `i`, 0 where it is invalid.
function sequenceLength(b: Uint8Array, i: number): number {
  const lead = b[i]!;
  if (lead < 0x80) return 1;
  let n: number;
  if (lead >= 0xc2 && lead <= 0xdf) n = 2;
  else if (lead >= 0xe0 && lead <= 0xef) n = 3;
  else if (lead >= 0xf0 && lead <= 0xf4) n = 4;
  else return 0;
  if (i + n > b.length) return 0;
  const [lo, hi] = secondRange(lead);
  if (b[i + 1]! < lo || b[i + 1]! > hi) return 0;
  for (let k = 2; k < n; k++) if (b[i + k]! < 0x80 || b[i + k]! > 0xbf) return 0;
  return n;
}

/** `bytes` as the string OPA makes of them: valid UTF-8 decoded, each invalid byte U+FFFD. */
export function goBytesToString(bytes: Uint8Array): string {
  let out = '';
  let start = 0;
  let i = 0;
  const decoder = new TextDecoder();
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += `${decoder.decode(bytes.subarray(start, i))}\ufffd`;
    i++;
    start = i;
  }
  return out + decoder.decode(bytes.subarray(start));
}
