/**
 * time.parse_duration_ns: Go's time.ParseDuration ("300ms", "-1.5h", "2h45m", ".5us",
 * "1µs") to exact nanoseconds (BigInt), within int64, with Go's arithmetic: whole
 * parts exact, fractions through a double (f * (unit / scale)). Where Go fails, OPA
 * reads the string again with days, weeks and years ("1d12h", "1.5w", "2y" of 365
 * days): [-+]? then segments of [0-9.]+ and a unit; a d, w or y segment is its
 * number as a double times the unit, truncated; any other segment is the sign, the
 * number and the unit through Go's ParseDuration; the sum must stay within int64.
 * That second reading is inferred from OPA's answers (the differential test pins it).
 */
import { leadingInt } from './go-layout.js';
import { BuiltinCallError } from './types.js';

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // micro sign
  ['\u03bcs', 1_000n], // Greek mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);
const LIMIT = 2n ** 63n;

// Go's leadingFraction: the digits' value (stops gaining precision past 2^63), their scale, the rest.
function leadingFraction(s: string): [bigint, number, string] {
  let i = 0;
  let x = 0n;
  let scale = 1;
  let overflow = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (overflow) continue;
    if (x > (LIMIT - 1n) / 10n) {
      overflow = true;
      continue;
    }
    const y = x * 10n + BigInt(c - 48);
    if (y > LIMIT) {
      overflow = true;
      continue;
    }
    x = y;
    scale *= 10;
  }
  return [x, scale, s.slice(i)];
}

/** The nanoseconds `text` denotes, as Go's time.ParseDuration reads it; throws where Go fails. */
export function goParseDuration(text: string): bigint {
  const invalid = (): never => {
    throw new BuiltinCallError(`time: invalid duration ${JSON.stringify(text)}`);
  };
  let s = text;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') invalid();
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) invalid();
    const before = s.length;
    const lead = leadingInt(s) ?? invalid();
    let v = lead[0];
    s = lead[1];
    const pre = before !== s.length;
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      const len = s.length;
      [f, scale, s] = leadingFraction(s);
      post = len !== s.length;
    }
    if (!pre && !post) invalid();
    let i = 0;
    while (i < s.length && s[i] !== '.' && !(s[i]! >= '0' && s[i]! <= '9')) i++;
    if (i === 0) throw new BuiltinCallError(`time: missing unit in duration ${JSON.stringify(text)}`);
    const unit = UNITS.get(s.slice(0, i));
    if (unit === undefined) throw new BuiltinCallError(`time: unknown unit in duration ${JSON.stringify(text)}`);
    s = s.slice(i);
    if (v > LIMIT / unit) invalid();
    v *= unit;
    if (f > 0n) {
      // float64 is what makes a fraction of an hour nanosecond-accurate in Go.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > LIMIT) invalid();
    }
    d += v;
    if (d > LIMIT) invalid();
  }
  if (neg) return -d;
  if (d > LIMIT - 1n) invalid();
  return d;
}

const HOURS: ReadonlyMap<string, number> = new Map([
  ['d', 24],
  ['w', 7 * 24],
  ['y', 365 * 24],
]);
const SEGMENT = /([0-9.]+)(ms|us|\u00b5s|ns|[a-z])/y;

// A double's shortest decimal in fixed notation, as Go's strconv.FormatFloat(x, 'f', -1, 64).
function plainDecimal(x: number): string {
  const s = String(x);
  const m = /^(-?)(\d)(?:\.(\d+))?e([-+]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  const digits = int + frac;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  return `${sign}${digits.padEnd(point, '0')}${digits.length > point ? `.${digits.slice(point)}` : ''}`;
}

// OPA's reading with days, weeks and years, for what Go's ParseDuration refuses: each such
// segment becomes hours (its number as a double times 24, 168 or 8760, written out in full)
// and the whole goes through Go's ParseDuration again.
function longDuration(text: string): bigint {
  const sign = text[0] === '-' || text[0] === '+' ? text[0] : '';
  const body = text.slice(sign.length);
  let rewritten = sign;
  let at = 0;
  while (at < body.length) {
    SEGMENT.lastIndex = at;
    const m = SEGMENT.exec(body);
    if (m === null) break;
    const [, digits = '', unit = ''] = m;
    at = SEGMENT.lastIndex;
    const hours = HOURS.get(unit);
    if (hours === undefined) {
      rewritten += `${digits}${unit}`;
      continue;
    }
    if (!/^(\d+\.?\d*|\.\d+)$/.test(digits)) throw new BuiltinCallError(`invalid duration ${JSON.stringify(text)}`);
    rewritten += `${plainDecimal(Number(digits) * hours)}h`;
  }
  if (at === 0 || at !== body.length) throw new BuiltinCallError(`invalid duration ${JSON.stringify(text)}`);
  return goParseDuration(rewritten);
}

/** The nanoseconds `text` denotes for OPA's time.parse_duration_ns; throws where OPA fails. */
export function opaParseDuration(text: string): bigint {
  try {
    return goParseDuration(text);
  } catch {
    return longDuration(text);
  }
}
