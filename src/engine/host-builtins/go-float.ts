/**
 * Go's strconv.FormatFloat(v, fmt, prec, 64), for fmt's float verbs. Digits come
 * from the double's exact decimal expansion (BigInt) rounded half to even, which
 * is what Go's correctly rounded conversions produce; the shortest form
 * (prec < 0) takes JavaScript's shortest round-trip digits, the same digits Go's
 * shortest algorithm picks.
 */

/** Decimal digits d1d2…dn (no leading or trailing zeros) meaning 0.d1d2… × 10^dp; none for zero. */
interface Digits {
  d: string;
  dp: number;
}

const view = new DataView(new ArrayBuffer(8));

/** The double's sign, 53-bit mantissa and binary exponent (value = mant × 2^exp), Go's way. */
function parts(v: number): { neg: boolean; mant: bigint; exp: number; biased: number } {
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const neg = bits >> 63n !== 0n;
  let biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (biased === 0) biased = 1;
  else mant |= 1n << 52n;
  return { neg, mant, exp: biased - 1023 - 52, biased: biased - 1023 };
}

/** The exact decimal expansion of |v|. */
function exactDigits(mant: bigint, exp: number): Digits {
  if (mant === 0n) return { d: '', dp: 0 };
  let text: string;
  let dp: number;
  if (exp >= 0) {
    text = (mant << BigInt(exp)).toString();
    dp = text.length;
  } else {
    text = (mant * 5n ** BigInt(-exp)).toString();
    dp = text.length + exp;
  }
  return { d: text.replace(/0+$/, ''), dp };
}

/** Rounds to `nd` digits, half to even (Go's decimal.Round). */
function round(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return nd < 0 ? { d: '', dp: 0 } : x;
  const c = x.d.charCodeAt(nd);
  let up = c > 0x35;
  if (c === 0x35) up = nd + 1 < x.d.length || (nd > 0 && (x.d.charCodeAt(nd - 1) - 0x30) % 2 === 1);
  if (!up) {
    const kept = x.d.slice(0, nd).replace(/0+$/, '');
    return { d: kept, dp: kept === '' ? 0 : x.dp };
  }
  let i = nd - 1;
  while (i >= 0 && x.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: x.dp + 1 };
  return { d: x.d.slice(0, i) + String.fromCharCode(x.d.charCodeAt(i) + 1), dp: x.dp };
}

/** JavaScript's shortest round-trip digits of |v| (v ≠ 0). */
function shortestDigits(v: number): Digits {
  const [m, e] = Math.abs(v).toExponential().split('e') as [string, string];
  return { d: m.replace('.', '').replace(/0+$/, ''), dp: Number(e) + 1 };
}

function fmtE(neg: boolean, x: Digits, prec: number, verb: string): string {
  let out = (neg ? '-' : '') + (x.d[0] ?? '0');
  if (prec > 0) out += `.${x.d.slice(1, prec + 1).padEnd(prec, '0')}`;
  let exp = x.d.length === 0 ? 0 : x.dp - 1;
  const sign = exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  return `${out}${verb}${sign}${exp < 10 ? `0${exp}` : String(exp)}`;
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let out = neg ? '-' : '';
  out += x.dp > 0 ? x.d.slice(0, x.dp).padEnd(x.dp, '0') : '0';
  if (prec > 0) {
    let frac = '';
    for (let i = 0; i < prec; i++) {
      const j = x.dp + i;
      frac += j >= 0 && j < x.d.length ? x.d[j] : '0';
    }
    out += `.${frac}`;
  }
  return out;
}

function formatDigits(neg: boolean, x: Digits, prec: number, verb: string, shortest: boolean): string {
  if (verb === 'e' || verb === 'E') return fmtE(neg, x, prec, verb);
  if (verb === 'f') return fmtF(neg, x, prec);
  const nd = x.d.length;
  let eprec = prec;
  if (eprec > nd && nd >= x.dp) eprec = nd;
  if (shortest) eprec = 6;
  const exp = x.dp - 1;
  if (exp < -4 || exp >= eprec) return fmtE(neg, x, Math.min(prec, nd) - 1, verb === 'g' ? 'e' : 'E');
  return fmtF(neg, x, Math.max((prec > x.dp ? nd : prec) - x.dp, 0));
}

function fmtB(neg: boolean, mant: bigint, exp: number): string {
  return `${neg ? '-' : ''}${mant}p${exp >= 0 ? '+' : ''}${exp}`;
}

const MASK60 = (1n << 60n) - 1n;
const MASK64 = (1n << 64n) - 1n;

function fmtX(neg: boolean, mantIn: bigint, expIn: number, prec: number, verb: 'x' | 'X'): string {
  let mant = mantIn;
  let exp = mant === 0n ? 0 : expIn;
  mant <<= 8n; // leading 1 at bit 60
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant <<= 1n;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & MASK60;
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = verb === 'X' ? '0123456789ABCDEF' : '0123456789abcdef';
  let out = `${neg ? '-' : ''}0${verb}${(mant >> 60n) & 1n}`;
  mant = (mant << 4n) & MASK64;
  if ((prec < 0 && mant !== 0n) || prec > 0) {
    out += '.';
    for (let i = 0; prec < 0 ? mant !== 0n : i < prec; i++) {
      out += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
  }
  const e = Math.abs(exp);
  return `${out}${verb === 'x' ? 'p' : 'P'}${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : String(e)}`;
}

/** strconv.FormatFloat(v, verb, prec, 64): verb one of b e E f g G x X; prec < 0 for the shortest form. */
export function formatFloat(v: number, verb: string, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const { neg, mant, exp, biased } = parts(v);
  if (verb === 'b') return fmtB(neg, mant, exp);
  if (verb === 'x' || verb === 'X') return fmtX(neg, mant, biased, prec, verb);
  const shortest = prec < 0;
  let x: Digits;
  let p = prec;
  if (mant === 0n) x = { d: '', dp: 0 };
  else if (shortest) x = shortestDigits(v);
  else {
    const exact = exactDigits(mant, exp);
    const lower = verb.toLowerCase();
    if (lower === 'g' && p === 0) p = 1;
    x = round(exact, lower === 'e' ? p + 1 : lower === 'f' ? exact.dp + p : p);
  }
  if (shortest) {
    const lower = verb.toLowerCase();
    p = lower === 'e' ? Math.max(x.d.length - 1, 0) : lower === 'f' ? Math.max(x.d.length - x.dp, 0) : x.d.length;
  }
  return formatDigits(neg, x, p, verb, shortest);
}
