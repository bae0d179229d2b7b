/**
 * OPA's CIDR merge (v1/topdown/cidr.go's evalNetCIDRMerge and mergeCIDRs, with
 * internal/cidr/merge, after Cilium's), step by step on Go-shaped bytes
 * (go-net.ts) and BigInt for math/big: every range as [first, last] (an IPv4
 * range in its IPv4-mapped 16-byte form), sorted by last then first, each
 * merged into its predecessor when it starts at most one address after the
 * predecessor's end, and merged ranges turned back into the fewest CIDRs. A
 * network merged with no other is returned as given (an address as
 * `addr/classful-length`, which is what OPA answers). Mirrored, not
 * re-derived: OPA's quirks (IPv4-mapped IPv6 networks, families side by side)
 * come out as OPA's do.
 */
import {
  at,
  bigOf,
  bytesOf,
  cidrMask,
  compare,
  ipEqual,
  maskIP,
  maskSize,
  put,
  to16,
  to4,
  IPV4_LEN,
  IPV6_LEN,
  type Bytes,
  type IPNet,
} from './go-net.js';
import { BuiltinCallError } from './types.js';

const V4_MAPPED_PREFIX: Bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const DEFAULT_IPV4: Bytes = [...V4_MAPPED_PREFIX, 0, 0, 0, 0];
const DEFAULT_IPV6: Bytes = new Array<number>(16).fill(0);
const UPPER_IPV4: Bytes = [...V4_MAPPED_PREFIX, 255, 255, 255, 255];
const UPPER_IPV6: Bytes = new Array<number>(16).fill(0xff);
const IPV4_LEADING_ZEROES: Bytes = new Array<number>(10).fill(0);

interface Range {
  first: Bytes;
  last: Bytes;
  /** The network as given, while the range is merged with no other. */
  network: IPNet | undefined;
}

/** The merged networks of `networks` (empty for none). */
export function mergeNetworks(networks: readonly IPNet[]): IPNet[] {
  if (networks.length === 0) return [];
  const ranges: Range[] = networks.map((network) => {
    const [first, last] = addressRange(network);
    return { first, last, network };
  });
  const result: IPNet[] = [];
  for (const r of mergeRanges(ranges)) {
    if (r.network !== undefined) result.push(r.network);
    else result.push(...rangeToCIDRs(r.first, r.last));
  }
  return result;
}

function mergeRanges(input: Range[]): Range[] {
  const ranges = [...input].sort((a, b) => compare(a.last, b.last) || compare(a.first, b.first));
  for (let i = ranges.length - 1; i > 0; i--) {
    const cur = ranges[i] as Range;
    const prev = ranges[i - 1] as Range;
    if (compare(previousIP(cur.first), prev.last) <= 0) {
      const first = compare(prev.first, cur.first) < 0 ? prev.first : cur.first;
      ranges[i - 1] = { first: [...first], last: [...cur.last], network: undefined };
      ranges.splice(i, 1);
    }
  }
  return ranges;
}

/** GetAddressRange: the first and last addresses of a network (IPv4 ones prefixed to IPv4-mapped form). */
export function addressRange(n: IPNet): [Bytes, Bytes] {
  let first = maskIP(n.ip, n.mask);
  let last = maskIP(n.ip, n.mask);
  if (to4(first) !== undefined) {
    first = [...V4_MAPPED_PREFIX, ...first];
    last = [...V4_MAPPED_PREFIX, ...last];
  }
  const m = n.mask;
  for (let i = 0; i < m.length; i++) {
    const inverted = ~(m[m.length - i - 1] as number) & 0xff;
    put(last, IPV6_LEN - i - 1, at(last, IPV6_LEN - i - 1) | inverted);
  }
  return [first, last];
}

/** GetPreviousIP: the address before `ip` (zero stays zero; IPv4 ones borrow only within their last 4 bytes). */
export function previousIP(ip: Bytes): Bytes {
  if (ipEqual(ip, DEFAULT_IPV4) || ipEqual(ip, DEFAULT_IPV6)) return ip;
  const prev = [...ip];
  let overflow = false;
  const lower = to4(ip) !== undefined ? IPV6_LEN - IPV4_LEN : 0;
  for (let i = ip.length - 1; i >= lower; i--) {
    if (overflow || i === ip.length - 1) put(prev, i, at(prev, i) - 1);
    overflow = at(ip, i) === 0 && prev[i] === 255;
  }
  return prev;
}

// getNextIP: the address after `ip` (the top address of either family stays as it is).
function nextIP(ip: Bytes): Bytes {
  if (ipEqual(ip, UPPER_IPV4) || ipEqual(ip, UPPER_IPV6)) return ip;
  if (ip.length === IPV4_LEN) return padTo((bigOf(ip) + 1n) & 0xffffffffn, IPV4_LEN);
  if (ip.length !== IPV6_LEN) return ip;
  const low = (bigOf(ip.slice(8)) + 1n) & 0xffffffffffffffffn;
  const high = low === 0n ? (bigOf(ip.slice(0, 8)) + 1n) & 0xffffffffffffffffn : bigOf(ip.slice(0, 8));
  return [...padTo(high, 8), ...padTo(low, 8)];
}

function padTo(n: bigint, len: number): Bytes {
  const b = bytesOf(n);
  return [...new Array<number>(len - b.length).fill(0), ...b];
}

// createSpanningCIDR: the smallest network (by masking the upper bound) that holds both bounds.
function spanningCIDR(lowest: Bytes, highestIn: Bytes): IPNet {
  const isIPv4 = to4(lowest) !== undefined;
  const bitLen = isIPv4 ? 32 : 128;
  const byteLen = isIPv4 ? IPV4_LEN : IPV6_LEN;
  let size = bitLen;
  const low = bigOf(lowest);
  let high = bigOf(highestIn);
  while (size > 0 && low < high) {
    size--;
    high &= -(1n << BigInt(bitLen - size));
  }
  let highest = isIPv4 ? [...IPV4_LEADING_ZEROES, ...bytesOf(high)] : bytesOf(high);
  if (highest.length === 0) highest = new Array<number>(byteLen).fill(0);
  return { ip: highest, mask: cidrMask(size, bitLen) };
}

// RangeToCIDRs: the networks that cover exactly [first, last].
function rangeToCIDRs(first: Bytes, last: Bytes): IPNet[] {
  let spanning = spanningCIDR(first, last);
  const [firstSpanning, lastSpanning] = addressRange(spanning);
  let list: IPNet[] = [];
  if (compare(firstSpanning, first) < 0) {
    const prev = previousIP(first);
    const bitLen = to4(prev) !== undefined ? 32 : 128;
    const [, right] = partition(spanning, { ip: prev, mask: cidrMask(bitLen, bitLen) });
    const head = right[0];
    if (head === undefined) throw new BuiltinCallError('index out of range [0] with length 0');
    list.push(...right);
    spanning = head;
    list = list.slice(1);
  }
  if (compare(lastSpanning, last) > 0) {
    const next = nextIP(last);
    const bitLen = to4(next) !== undefined ? 32 : 128;
    const [left] = partition(spanning, { ip: next, mask: cidrMask(bitLen, bitLen) });
    list.push(...left);
  } else list.push(spanning);
  return list;
}

// The byte form Go gives a big.Int in partitionCIDR: IPv4 after 10 zero bytes, IPv6 padded to 16.
function partitionBytes(n: bigint, targetIsIPv4: boolean): Bytes {
  const b = bytesOf(n);
  if (targetIsIPv4) return [...IPV4_LEADING_ZEROES, ...b];
  if (b.length > IPV6_LEN) throw new BuiltinCallError('makeslice: len out of range');
  return b.length === IPV6_LEN ? b : padTo(n, IPV6_LEN);
}

// partitionCIDR: the networks of `target` left and right of `exclude`.
function partition(target: IPNet, exclude: IPNet): [IPNet[], IPNet[]] {
  const targetIsIPv4 = to4(target.ip) !== undefined;
  const [targetFirst, targetLast] = addressRange(target);
  const [excludeFirst, excludeLast] = addressRange(exclude);
  const [targetMaskSize] = maskSize(target.mask);
  const [excludeMaskSize] = maskSize(exclude.mask);
  if (compare(excludeLast, targetFirst) < 0) return [[], [target]];
  if (compare(targetLast, excludeFirst) < 0) return [[target], []];
  if (targetMaskSize >= excludeMaskSize) return [[], []];
  const left: IPNet[] = [];
  const right: IPNet[] = [];
  let prefixLen = targetMaskSize + 1;
  let lower = bigOf(targetFirst);
  const bitLen = targetIsIPv4 ? 32 : 128;
  let upper = bigOf(to16(targetFirst)) + (1n << BigInt(bitLen - prefixLen));
  let matched = 0n;
  while (excludeMaskSize >= prefixLen) {
    const upperBytes = partitionBytes(upper, targetIsIPv4);
    const lowerBytes = partitionBytes(lower, targetIsIPv4);
    if (compare(excludeFirst, upperBytes) >= 0) {
      left.push({ ip: lowerBytes, mask: cidrMask(prefixLen, bitLen) });
      matched = upper;
    } else {
      right.push({ ip: upperBytes, mask: cidrMask(prefixLen, bitLen) });
      matched = lower;
    }
    prefixLen++;
    if (prefixLen > bitLen) break;
    lower = matched;
    upper = matched + (1n << BigInt(bitLen - prefixLen));
  }
  return [left, right];
}
