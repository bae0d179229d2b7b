/**
 * Go's time.Parse for time.parse_ns and time.parse_rfc3339_ns: a value read with a
 * Go layout (go-layout.ts), to the instant's exact nanoseconds since the epoch
 * (BigInt). Element by element as Go reads them: case-insensitive month and day
 * names, space-padded days, a fractional second after the seconds even when the
 * layout has none, numeric offsets up to 24:60:60, "Z", zone abbreviations.
 *
 * A zone abbreviation other than "UTC" and "GMT±h" is, in Go, looked up in the
 * process's local zone and otherwise read as offset 0; here it is always read as
 * offset 0, which is what Go does when the local zone is UTC (as in containers).
 */
import {
  atoi,
  isDigitAt,
  leadingInt,
  LONG_DAYS,
  LONG_MONTHS,
  nextChunk,
  SHORT_DAYS,
  SHORT_MONTHS,
} from './go-layout.js';
import { BuiltinCallError } from './types.js';
import { wallSeconds } from './zone.js';

class Bad extends BuiltinCallError {}
const bad = (what = 'bad value for field'): never => {
  throw new Bad(what);
};

// Go's match: `name` prefixes `value`, ASCII letters compared without case.
function matchFold(value: string, name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    const a = value.charCodeAt(k);
    const b = name.charCodeAt(k);
    if (a === b) continue;
    const la = a | 0x20;
    if (la !== (b | 0x20) || la < 0x61 || la > 0x7a) return false;
  }
  return true;
}

// Go's lookup: the first name that prefixes `value`, ignoring ASCII case.
function lookup(names: readonly string[], value: string): [number, string] {
  for (let i = 0; i < names.length; i++) {
    const v = names[i]!;
    if (value.length >= v.length && matchFold(value, v)) return [i, value.slice(v.length)];
  }
  return bad();
}

// Go's getnum (one or two digits; `fixed` wants two) and getnum3.
function getnum(s: string, fixed: boolean): [number, string] {
  if (!isDigitAt(s, 0)) return bad();
  if (!isDigitAt(s, 1)) return fixed ? bad() : [Number(s[0]), s.slice(1)];
  return [Number(s.slice(0, 2)), s.slice(2)];
}
function getnum3(s: string, fixed: boolean): [number, string] {
  let i = 0;
  while (i < 3 && isDigitAt(s, i)) i++;
  if (i === 0 || (fixed && i !== 3)) return bad();
  return [Number(s.slice(0, i)), s.slice(i)];
}

// Go's skip: `prefix` off the front of `value`, a run of spaces matching a run of spaces.
function skip(value: string, prefix: string): string {
  let v = value;
  let p = prefix;
  while (p.length > 0) {
    if (p[0] === ' ') {
      if (v.length > 0 && v[0] !== ' ') return bad();
      p = p.replace(/^ +/, '');
      v = v.replace(/^ +/, '');
      continue;
    }
    if (v.length === 0 || v[0] !== p[0]) return bad();
    p = p.slice(1);
    v = v.slice(1);
  }
  return v;
}

// Go's parseNanoseconds: a separator and digits (at most nine kept), scaled to nanoseconds.
function nanoseconds(value: string, nbytes: number): number {
  if (value[0] !== '.' && value[0] !== ',') return bad();
  const n = Math.min(nbytes, 10);
  const ns = atoi(value.slice(1, n)) ?? bad();
  if (ns < 0) return bad('fractional second out of range');
  return ns * 10 ** (10 - n);
}

// Go's parseSignedOffset: the length of "+h"/"-hh" (hours up to 23), 0 if none.
function signedOffset(value: string): number {
  if (value[0] !== '-' && value[0] !== '+') return 0;
  const r = leadingInt(value.slice(1));
  if (r === undefined || r[1].length === value.length - 1 || r[0] > 23n) return 0;
  return value.length - r[1].length;
}

// Go's parseTimeZone: the length of the zone abbreviation at the start of `value`, 0 if none.
function timeZoneLength(value: string): number {
  if (value.length < 3) return 0;
  if (value.startsWith('ChST') || value.startsWith('MeST')) return 4;
  if (value.startsWith('GMT')) return 3 + (value.length > 3 ? signedOffset(value.slice(3)) : 0);
  if (value[0] === '+' || value[0] === '-') return signedOffset(value);
  let upper = 0;
  while (upper < 6 && upper < value.length && value[upper]! >= 'A' && value[upper]! <= 'Z') upper++;
  if (upper === 3) return 3;
  if (upper === 4 && (value[3] === 'T' || value.startsWith('WITA'))) return 4;
  if (upper === 5 && value[4] === 'T') return 5;
  return 0;
}

const isLeap = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
// Go's daysBefore: days in the year before month m (1..13) of a common year.
const DAYS_BEFORE = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
const daysBefore = (m: number): number => DAYS_BEFORE[m] ?? 365;
const daysIn = (m: number, y: number): number => (m === 2 && isLeap(y) ? 29 : daysBefore(m + 1) - daysBefore(m));

/** The instant `value` denotes under Go's `layout`, in nanoseconds since the epoch; throws where Go fails. */
export function goParse(layout: string, value: string): bigint {
  let rest = layout;
  let v = value;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let amSet = false;
  let pmSet = false;
  let utc = false;
  let zoneOffset: number | undefined;
  for (;;) {
    const chunk = nextChunk(rest);
    v = skip(v, chunk.prefix);
    if (chunk.std === undefined) {
      if (v.length !== 0) bad('extra text');
      break;
    }
    rest = chunk.suffix;
    let range = '';
    switch (chunk.std) {
      case '06': {
        if (v.length < 2) bad();
        year = atoi(v.slice(0, 2)) ?? bad();
        v = v.slice(2);
        year += year >= 69 ? 1900 : 2000;
        break;
      }
      case '2006':
        if (v.length < 4 || !isDigitAt(v, 0)) bad();
        year = atoi(v.slice(0, 4)) ?? bad();
        v = v.slice(4);
        break;
      case 'Jan':
        [month, v] = lookup(SHORT_MONTHS, v);
        month++;
        break;
      case 'January':
        [month, v] = lookup(LONG_MONTHS, v);
        month++;
        break;
      case '1':
      case '01':
        [month, v] = getnum(v, chunk.std === '01');
        if (month <= 0 || month > 12) range = 'month';
        break;
      case 'Mon':
        v = lookup(SHORT_DAYS, v)[1];
        break;
      case 'Monday':
        v = lookup(LONG_DAYS, v)[1];
        break;
      case '2':
      case '_2':
      case '02':
        if (chunk.std === '_2' && v[0] === ' ') v = v.slice(1);
        [day, v] = getnum(v, chunk.std === '02');
        break;
      case '__2':
      case '002':
        for (let i = 0; i < 2; i++) if (chunk.std === '__2' && v[0] === ' ') v = v.slice(1);
        [yday, v] = getnum3(v, chunk.std === '002');
        break;
      case '15':
        [hour, v] = getnum(v, false);
        if (hour >= 24) range = 'hour';
        break;
      case '3':
      case '03':
        [hour, v] = getnum(v, chunk.std === '03');
        if (hour > 12) range = 'hour';
        break;
      case '4':
      case '04':
        [min, v] = getnum(v, chunk.std === '04');
        if (min >= 60) range = 'minute';
        break;
      case '5':
      case '05': {
        [sec, v] = getnum(v, chunk.std === '05');
        if (sec >= 60) {
          range = 'second';
          break;
        }
        // A fractional second in the value that the layout does not have.
        if (v.length >= 2 && (v[0] === '.' || v[0] === ',') && isDigitAt(v, 1)) {
          const next = nextChunk(rest).std;
          if (next === 'frac0' || next === 'frac9') break;
          let n = 2;
          while (n < v.length && isDigitAt(v, n)) n++;
          nsec = nanoseconds(v, n);
          v = v.slice(n);
        }
        break;
      }
      case 'PM':
      case 'pm': {
        if (v.length < 2) bad();
        const p = v.slice(0, 2);
        v = v.slice(2);
        const [pm, am] = chunk.std === 'PM' ? ['PM', 'AM'] : ['pm', 'am'];
        if (p === pm) pmSet = true;
        else if (p === am) amSet = true;
        else bad();
        break;
      }
      case 'Z0700':
      case 'Z070000':
      case 'Z07':
      case 'Z07:00':
      case 'Z07:00:00':
      case '-0700':
      case '-070000':
      case '-07':
      case '-07:00':
      case '-07:00:00': {
        const std = chunk.std;
        if (std.startsWith('Z') && v[0] === 'Z') {
          v = v.slice(1);
          utc = true;
          break;
        }
        let parts: [string, string, string, string];
        if (std === 'Z07:00' || std === '-07:00') {
          if (v.length < 6 || v[3] !== ':') bad();
          parts = [v.slice(0, 1), v.slice(1, 3), v.slice(4, 6), '00'];
          v = v.slice(6);
        } else if (std === 'Z07' || std === '-07') {
          if (v.length < 3) bad();
          parts = [v.slice(0, 1), v.slice(1, 3), '00', '00'];
          v = v.slice(3);
        } else if (std === 'Z07:00:00' || std === '-07:00:00') {
          if (v.length < 9 || v[3] !== ':' || v[6] !== ':') bad();
          parts = [v.slice(0, 1), v.slice(1, 3), v.slice(4, 6), v.slice(7, 9)];
          v = v.slice(9);
        } else if (std === 'Z070000' || std === '-070000') {
          if (v.length < 7) bad();
          parts = [v.slice(0, 1), v.slice(1, 3), v.slice(3, 5), v.slice(5, 7)];
          v = v.slice(7);
        } else {
          if (v.length < 5) bad();
          parts = [v.slice(0, 1), v.slice(1, 3), v.slice(3, 5), '00'];
          v = v.slice(5);
        }
        const [sign, hh, mm, ss] = parts;
        const hr = getnum(hh, true)[0];
        const mi = getnum(mm, true)[0];
        const se = getnum(ss, true)[0];
        if (hr > 24 || mi > 60 || se > 60) range = 'time zone offset';
        const offset = (hr * 60 + mi) * 60 + se;
        if (sign === '+') zoneOffset = offset;
        else if (sign === '-') zoneOffset = -offset;
        else bad();
        break;
      }
      case 'MST': {
        if (v.startsWith('UTC')) {
          utc = true;
          v = v.slice(3);
          break;
        }
        const n = timeZoneLength(v);
        if (n === 0) bad();
        v = v.slice(n);
        break;
      }
      case 'frac0': {
        const ndigit = 1 + chunk.digits;
        if (v.length < ndigit) bad();
        nsec = nanoseconds(v, ndigit);
        v = v.slice(ndigit);
        break;
      }
      case 'frac9': {
        if (v.length < 2 || (v[0] !== '.' && v[0] !== ',') || !isDigitAt(v, 1)) break;
        let i = 0;
        while (i + 1 < v.length && isDigitAt(v, i + 1)) i++;
        nsec = nanoseconds(v, 1 + i);
        v = v.slice(1 + i);
        break;
      }
    }
    if (range !== '') bad(`${range} out of range`);
  }
  if (pmSet && hour < 12) hour += 12;
  else if (amSet && hour === 12) hour = 0;

  if (yday >= 0) {
    let d = 0;
    let m = 0;
    if (isLeap(year)) {
      if (yday === 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) yday--;
    }
    if (yday < 1 || yday > 365) bad('day-of-year out of range');
    if (m === 0) {
      m = Math.trunc((yday - 1) / 31) + 1;
      if (daysBefore(m + 1) < yday) m++;
      d = yday - daysBefore(m);
    }
    if (month >= 0 && month !== m) bad('day-of-year does not match month');
    month = m;
    if (day >= 0 && day !== d) bad('day-of-year does not match day');
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) bad('day out of range');

  let seconds = wallSeconds(year, month, day, hour, min, sec);
  // Go marks "no offset" with -1, so an offset of -00:00:01 reads as none. A zone name
  // (even GMT+3) sets only the location of the wall time read as UTC, not the instant.
  if (!utc && zoneOffset !== undefined && zoneOffset !== -1) seconds -= zoneOffset;
  return BigInt(seconds) * 1_000_000_000n + BigInt(nsec);
}
