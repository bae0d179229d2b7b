/**
 * units.parse and units.parse_bytes as OPA computes them (v1/topdown/parse_units.go,
 * parse_bytes.go): the amount and unit split as OPA splits them, units.parse in
 * exact rationals (Go's big.Rat; its milli is the double 0.001, as in OPA), and
 * units.parse_bytes in 64-bit-mantissa binary floats (Go's big.Float at its default
 * precision), truncated to an integer. Amounts are exact up to 19 significant
 * digits; past that Go rounds its decimal scan in two steps, which may differ
 * from this in the last bit of a 64-bit mantissa.
 */
import { decimalRational, type Rational } from './exact.js';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

const MAX_EXPONENT_DIGITS = 6;
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** OPA's extractNumAndUnit: the leading amount and the rest. */
function numberAndUnit(s: string): [string, string] {
  let first = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (!isDigit(c) && c !== '.' && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') {
      first = i;
      break;
    }
    if (c === 'e' || c === 'E') {
      const next = s[i + 1];
      if (i === s.length - 1 || (!isDigit(next) && next !== '+' && next !== '-')) {
        first = i;
        break;
      }
      if (next === '+' || next === '-') i++;
      let end = i + 1;
      while (isDigit(s[end])) end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) throw new BuiltinCallError('exponent too large');
    }
  }
  if (first === -1) return [s, ''];
  return [s.slice(0, first), s.slice(first)];
}

const K = 1000n;
const KI = 1024n;
const SI: Record<string, bigint> = { k: K, m: K ** 2n, g: K ** 3n, t: K ** 4n, p: K ** 5n, e: K ** 6n };
const BINARY: Record<string, bigint> = { ki: KI, mi: KI ** 2n, gi: KI ** 3n, ti: KI ** 4n, pi: KI ** 5n, ei: KI ** 6n };

// The exact value of a double.
function doubleRational(x: number): Rational {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (exp === 0 ? 0n : 1n << 52n);
  const e = (exp === 0 ? 1 : exp) - 1075;
  return e >= 0 ? { num: mant << BigInt(e), den: 1n } : { num: mant, den: 1n << BigInt(-e) };
}

// Go's Rat.FloatString(10): ten decimals, the last rounded half away from zero.
function floatString10(r: Rational): string {
  const neg = r.num < 0n;
  const abs = neg ? -r.num : r.num;
  const scale = 10n ** 10n;
  const scaled = abs * scale;
  let q = scaled / r.den;
  if ((scaled % r.den) * 2n >= r.den) q++;
  const frac = (q % scale).toString().padStart(10, '0');
  return `${neg ? '-' : ''}${q / scale}.${frac}`;
}

// A positive rational rounded to a 64-bit mantissa, to nearest, ties to even: [mantissa, exponent of 2].
function round64(num: bigint, den: bigint): [bigint, bigint] {
  let e = BigInt(num.toString(2).length - den.toString(2).length) - 64n;
  for (;;) {
    const [n, d] = e >= 0n ? [num, den << e] : [num << -e, den];
    let m = n / d;
    const rem = n % d;
    if (m >= 1n << 64n) {
      e++;
      continue;
    }
    if (m < 1n << 63n) {
      e--;
      continue;
    }
    if (rem * 2n > d || (rem * 2n === d && (m & 1n) === 1n)) m++;
    if (m === 1n << 64n) return [1n << 63n, e + 1n];
    return [m, e];
  }
}

export const unitsBuiltins: Record<string, HostBuiltin> = {
  'units.parse': ([a]) => {
    const s = stringArg(a, 1).replaceAll('"', '');
    if (s.includes(' ')) throw new BuiltinCallError('spaces not allowed in resource strings');
    const [num, rawUnit] = numberAndUnit(s);
    if (num === '') throw new BuiltinCallError('no amount provided');
    const unit = rawUnit.length > 1 ? rawUnit[0] + rawUnit.slice(1).toLowerCase() : rawUnit;
    let factor: Rational;
    if (unit === 'm') factor = doubleRational(0.001);
    else if (unit === '') factor = { num: 1n, den: 1n };
    else if (unit === 'M') factor = { num: SI.m as bigint, den: 1n };
    else if (unit !== 'm' && unit !== 'mi' && unit.length === 1 && SI[unit.toLowerCase()] !== undefined)
      factor = { num: SI[unit.toLowerCase()] as bigint, den: 1n };
    else if (unit.length === 2 && unit[1] === 'i' && BINARY[unit.toLowerCase()] !== undefined)
      factor = { num: BINARY[unit.toLowerCase()] as bigint, den: 1n };
    else throw new BuiltinCallError(`unit ${unit} not recognized`);
    const amount = decimalRational(num, true);
    if (amount === undefined) throw new BuiltinCallError('could not parse amount to a number');
    const r = { num: amount.num * factor.num, den: amount.den * factor.den };
    if (r.num % r.den === 0n) return (r.num / r.den).toString();
    return floatString10(r);
  },
  'units.parse_bytes': ([a]) => {
    const s = stringArg(a, 1).toLowerCase().replaceAll('"', '');
    if (s.includes(' ')) throw new BuiltinCallError('spaces not allowed in resource strings');
    const [num, unit] = numberAndUnit(s);
    if (num === '') throw new BuiltinCallError('no byte amount provided');
    const u = unit.endsWith('b') && unit.length > 1 ? unit.slice(0, -1) : unit;
    let factor: bigint | undefined;
    if (unit === '') factor = 1n;
    else if (u.length === 1) factor = SI[u];
    else if (u.length === 2 && u[1] === 'i') factor = BINARY[u];
    if (factor === undefined) throw new BuiltinCallError(`byte unit ${unit} not recognized`);
    const amount = decimalRational(num, true);
    if (amount === undefined) throw new BuiltinCallError('could not parse byte amount to a number');
    if (amount.num === 0n) return '0';
    const neg = amount.num < 0n;
    const [m1, e1] = round64(neg ? -amount.num : amount.num, amount.den);
    const [m2, e2] = round64(m1 * factor * (e1 >= 0n ? 1n << e1 : 1n), e1 >= 0n ? 1n : 1n << -e1);
    const total = e2 >= 0n ? m2 << e2 : m2 >> -e2;
    return (neg ? -total : total).toString();
  },
};
