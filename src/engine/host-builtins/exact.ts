/**
 * Exact arithmetic on JSON number text, as Go's math/big reads it, for the builtins
 * whose results depend on every digit (nanosecond timestamps, byte counts).
 */

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/;

/** An exact rational: num / den, den > 0. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/**
 * A decimal's exact value: `[+-]digits[.digits][e[+-]digits]` (as Go's big.Rat/big.Float
 * SetString take it, a leading '+' and a bare "1." or ".5" included), or undefined.
 */
export function decimalRational(text: string, allowPlus = false): Rational | undefined {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const [, sign, int = '', frac = '', exp] = m;
  if (sign === '+' && !allowPlus) return undefined;
  if (int.length + frac.length === 0) return undefined;
  const digits = BigInt(`${int}${frac}` || '0');
  const e = BigInt(exp ?? '0') - BigInt(frac.length);
  const signed = sign === '-' ? -digits : digits;
  return e >= 0n ? { num: signed * 10n ** e, den: 1n } : { num: signed, den: 10n ** -e };
}

/** The exact integer a JSON number literal denotes, or undefined when it has a fraction or is malformed. */
export function integerOf(text: string): bigint | undefined {
  if (!NUMBER.test(text)) return undefined;
  const m = NUMBER.exec(text);
  // An exponent that large is far outside int64 whatever its digits; do not build the power.
  if (m?.[4] !== undefined && Math.abs(Number(m[4])) > 400) return /^-?0*(\.0*)?([eE]|$)/.test(text) ? 0n : undefined;
  const r = decimalRational(text);
  if (r === undefined || r.num % r.den !== 0n) return undefined;
  return r.num / r.den;
}

/** floor(a / b) for b > 0. */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
