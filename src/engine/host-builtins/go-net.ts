/**
 * The parts of Go's net package (and bytes.Compare, math/big's byte forms) that
 * OPA's CIDR builtins use, on byte arrays as Go holds them: an IP is 4 or 16
 * bytes (or, from OPA's range code, some other length: kept as is), an IPv4
 * address parsed by ParseIP is 16 bytes (::ffff:a.b.c.d), a mask is 4 or 16
 * bytes. A Go nil slice is the empty array. Where Go would panic (an index out of
 * range) this throws BuiltinCallError: the call has no result.
 */
import { isIP, isIPv4 } from 'node:net';
import { BuiltinCallError } from './types.js';

/** Bytes, as a Go []byte. */
export type Bytes = number[];

/** An IP network: its IP and mask, as Go's net.IPNet. */
export interface IPNet {
  readonly ip: Bytes;
  readonly mask: Bytes;
}

export const IPV4_LEN = 4;
export const IPV6_LEN = 16;
const V4_IN_V6_PREFIX: Bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** bytes.Compare. */
export function compare(a: Bytes, b: Bytes): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** b[i], or the panic Go would raise. */
export function at(b: Bytes, i: number): number {
  if (i < 0 || i >= b.length) throw new BuiltinCallError(`index ${i} out of range [${b.length}]`);
  return b[i] as number;
}

/** b[i] = v (a byte), or the panic Go would raise. */
export function put(b: Bytes, i: number, v: number): void {
  at(b, i);
  b[i] = v & 0xff;
}

function equalBytes(a: Bytes, b: Bytes): boolean {
  return compare(a, b) === 0;
}

/** big.Int.SetBytes: big-endian unsigned. */
export function bigOf(b: Bytes): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

/** big.Int.Bytes: big-endian, no leading zeros (zero: empty). */
export function bytesOf(n: bigint): Bytes {
  const out: Bytes = [];
  for (let v = n; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return out;
}

/** net.IP.To4: the 4-byte form of an IPv4 (or IPv4-mapped) address, else nil (undefined). */
export function to4(ip: Bytes): Bytes | undefined {
  if (ip.length === IPV4_LEN) return ip;
  if (ip.length === IPV6_LEN && equalBytes(ip.slice(0, 12), V4_IN_V6_PREFIX)) return ip.slice(12);
  return undefined;
}

/** net.IP.To16. */
export function to16(ip: Bytes): Bytes {
  if (ip.length === IPV4_LEN) return [...V4_IN_V6_PREFIX, ...ip];
  return ip.length === IPV6_LEN ? ip : [];
}

/** net.IP.Equal. */
export function ipEqual(a: Bytes, b: Bytes): boolean {
  if (a.length === b.length) return equalBytes(a, b);
  if (a.length === IPV4_LEN && b.length === IPV6_LEN)
    return equalBytes(b.slice(0, 12), V4_IN_V6_PREFIX) && equalBytes(a, b.slice(12));
  if (a.length === IPV6_LEN && b.length === IPV4_LEN)
    return equalBytes(a.slice(0, 12), V4_IN_V6_PREFIX) && equalBytes(a.slice(12), b);
  return false;
}

/** net.IP.Mask (nil, the empty array, when the lengths do not fit). */
export function maskIP(ip: Bytes, mask: Bytes): Bytes {
  let m = mask;
  let x = ip;
  if (m.length === IPV6_LEN && x.length === IPV4_LEN && m.slice(0, 12).every((v) => v === 0xff)) m = m.slice(12);
  if (m.length === IPV4_LEN && x.length === IPV6_LEN && equalBytes(x.slice(0, 12), V4_IN_V6_PREFIX)) x = x.slice(12);
  if (x.length !== m.length) return [];
  return x.map((v, i) => v & (m[i] as number));
}

/** net.CIDRMask (nil for a length outside 0..bits, or bits neither 32 nor 128). */
export function cidrMask(ones: number, bits: number): Bytes {
  if ((bits !== 32 && bits !== 128) || ones < 0 || ones > bits) return [];
  const out: Bytes = [];
  for (let i = 0; i < bits / 8; i++) {
    const n = Math.max(0, Math.min(8, ones - i * 8));
    out.push((0xff00 >> n) & 0xff);
  }
  return out;
}

// The prefix length of a canonical mask (ones then zeros), else -1.
function simpleMaskLength(mask: Bytes): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    let v = mask[i] as number;
    if (v === 0xff) {
      n += 8;
      continue;
    }
    while ((v & 0x80) !== 0) {
      n++;
      v = (v << 1) & 0xff;
    }
    if (v !== 0) return -1;
    for (let j = i + 1; j < mask.length; j++) if (mask[j] !== 0) return -1;
    break;
  }
  return n;
}

/** net.IPMask.Size: [ones, bits], [0, 0] for a non-canonical mask. */
export function maskSize(mask: Bytes): [number, number] {
  const ones = simpleMaskLength(mask);
  return ones === -1 ? [0, 0] : [ones, mask.length * 8];
}

/** net.IP.DefaultMask: the classful mask of an IPv4 address (nil for IPv6). */
export function defaultMask(ip: Bytes): Bytes {
  const v4 = to4(ip);
  if (v4 === undefined) return [];
  const first = v4[0] as number;
  return first < 0x80 ? [0xff, 0, 0, 0] : first < 0xc0 ? [0xff, 0xff, 0, 0] : [0xff, 0xff, 0xff, 0];
}

const hex = (b: Bytes): string => b.map((v) => v.toString(16).padStart(2, '0')).join('');

/** net.IP.String: dotted for IPv4 (and IPv4-mapped), RFC 5952 for IPv6, `?hex` for other lengths. */
export function ipString(ip: Bytes): string {
  if (ip.length === 0) return '<nil>';
  if (ip.length !== IPV4_LEN && ip.length !== IPV6_LEN) return `?${hex(ip)}`;
  const v4 = to4(ip);
  if (v4 !== undefined) return v4.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((ip[2 * i] as number) << 8) | (ip[2 * i + 1] as number));
  // The longest run of at least two zero groups (the first of equals) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const part = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  return best < 0 ? part(0, 8) : `${part(0, best)}::${part(best + bestLen, 8)}`;
}

/** net.IPNet.String: `ip/len`, `ip/hexmask` for a non-canonical mask, `<nil>` when IP and mask do not fit. */
export function ipNetString(n: IPNet): string {
  let ip = to4(n.ip);
  if (ip === undefined) {
    ip = n.ip;
    if (ip.length !== IPV6_LEN) return '<nil>';
  }
  let m = n.mask;
  if (m.length === IPV4_LEN) {
    if (ip.length !== IPV4_LEN) return '<nil>';
  } else if (m.length === IPV6_LEN) {
    if (ip.length === IPV4_LEN) m = m.slice(12);
  } else return '<nil>';
  const l = simpleMaskLength(m);
  return `${ipString(ip)}/${l === -1 ? (m.length === 0 ? '<nil>' : hex(m)) : l}`;
}

/** netip.ParseAddr without a zone, as 16 bytes (net.ParseIP), and whether it was IPv4 (not IPv4-mapped IPv6). */
export function parseAddr(s: string): { bytes: Bytes; is4: boolean } | undefined {
  if (s.includes('%')) return undefined;
  // netip refuses IPv4 octets with leading zeros; so does node:net.
  if (isIPv4(s)) return { bytes: [...V4_IN_V6_PREFIX, ...s.split('.').map(Number)], is4: true };
  if (isIP(s) !== 6) return undefined;
  return { bytes: parseIPv6(s), is4: false };
}

// The 16 bytes of an IPv6 address node:net accepts (groups, one "::", an IPv4 tail).
function parseIPv6(s: string): Bytes {
  const words = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const gap = s.indexOf('::');
  const head = words(gap < 0 ? s : s.slice(0, gap));
  const tail = gap < 0 ? [] : words(s.slice(gap + 2));
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/** net.ParseIP: 16 bytes, or undefined. */
export function parseIP(s: string): Bytes | undefined {
  return parseAddr(s)?.bytes;
}

/** net.ParseCIDR: the address (16 bytes) and its network (IP masked: 4 bytes for IPv4), or undefined. */
export function parseCIDR(s: string): { ip: Bytes; net: IPNet } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddr(s.slice(0, slash));
  const bits = addr === undefined ? 0 : addr.is4 ? 32 : 128;
  const mask = s.slice(slash + 1);
  // Go's dtoi: decimal digits (leading zeros allowed), at most 0xFFFFFF.
  if (addr === undefined || !/^\d+$/.test(mask) || Number(mask) > bits) return undefined;
  const m = cidrMask(Number(mask), bits);
  return { ip: addr.bytes, net: { ip: maskIP(addr.bytes, m), mask: m } };
}
