/**
 * net.cidr_merge and net.cidr_expand, as OPA answers them (v1/topdown/cidr.go).
 *
 * net.cidr_merge(addrs): an array or set of strings, each a CIDR (Go's
 * net.ParseCIDR: host bits dropped) or an IPv4 address (its classful network:
 * `10.1.2.3` is `10.1.2.3/8` until merged); an IPv6 address without a prefix, a
 * non-string element or any other operand is an error. The set of the fewest
 * CIDRs covering the same addresses (cidr-merge.ts).
 *
 * net.cidr_expand(cidr): the set of every address of the CIDR, as Go writes
 * them. OPA has no bound but the query's deadline; the embedded engine cannot
 * interrupt a builtin, so a CIDR of more than MAX_EXPAND addresses is an error
 * (the call is undefined) instead of a decision that blocks the thread.
 */
import { mergeNetworks } from './cidr-merge.js';
import { bigOf, bytesOf, defaultMask, ipNetString, ipString, maskIP, maskSize, parseCIDR, parseIP } from './go-net.js';
import type { IPNet } from './go-net.js';
import { BuiltinCallError, stringArg, ValueNotation, type HostBuiltin } from './types.js';

/** The most addresses net.cidr_expand writes (an IPv4 /16, an IPv6 /112). */
export const MAX_EXPAND = 65_536;

// generateIPNet: an element of net.cidr_merge's operand as a network.
function networkOf(element: unknown): IPNet {
  if (typeof element !== 'string') throw new BuiltinCallError('element must be string');
  const ip = parseIP(element);
  if (ip === undefined) {
    const cidr = parseCIDR(element);
    if (cidr === undefined) throw new BuiltinCallError(`invalid CIDR address: ${element}`);
    return cidr.net;
  }
  const mask = defaultMask(ip);
  if (mask.length === 0) throw new BuiltinCallError('IPv6 invalid: needs prefix length');
  return { ip, mask };
}

export const cidrBuiltins: Record<string, HostBuiltin> = {
  // A set reaches the host as a JSON array: both are lists of elements here.
  'net.cidr_merge': ([a]) => {
    if (!Array.isArray(a?.value)) throw new BuiltinCallError('operand must be an array');
    const networks = (a.value as unknown[]).map(networkOf);
    return ValueNotation.stringSet(new Set(mergeNetworks(networks).map(ipNetString)));
  },
  'net.cidr_expand': ([a]) => {
    const s = stringArg(a, 1);
    const cidr = parseCIDR(s);
    if (cidr === undefined) throw new BuiltinCallError(`invalid CIDR address: ${s}`);
    const first = maskIP(cidr.ip, cidr.net.mask);
    const [ones, bits] = maskSize(cidr.net.mask);
    const hostBits = bits - ones;
    if (2 ** hostBits > MAX_EXPAND)
      throw new BuiltinCallError(`${s} has 2^${hostBits} addresses, more than ${MAX_EXPAND}`);
    const start = bigOf(first);
    const out: string[] = [];
    for (let i = 0n; i < 1n << BigInt(hostBits); i++) {
      const b = bytesOf(start + i);
      out.push(ipString([...new Array<number>(first.length - b.length).fill(0), ...b]));
    }
    return ValueNotation.stringSet(out);
  },
};
