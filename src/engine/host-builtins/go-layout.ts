/**
 * Go's time layouts (the reference time "Mon Jan 2 15:04:05 MST 2006"), split into
 * literal text and elements exactly as Go's time package does (nextStdChunk), for
 * time.format and time.parse_ns. Also Go's small integer readers (atoi, leadingInt),
 * whose quirks (a sign inside a two-digit year, overflow at 2^63) parsing inherits.
 */

/** Go's day names (Sunday first, as time.Weekday counts) and month names, long and short. */
export const LONG_DAYS: readonly string[] = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
];
export const SHORT_DAYS: readonly string[] = LONG_DAYS.map((d) => d.slice(0, 3));
export const LONG_MONTHS: readonly string[] = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
export const SHORT_MONTHS: readonly string[] = LONG_MONTHS.map((m) => m.slice(0, 3));

/** A layout element: what the reference time's field looks like in the layout. */
export type Std =
  | 'January'
  | 'Jan'
  | '1'
  | '01'
  | 'Monday'
  | 'Mon'
  | '2'
  | '_2'
  | '02'
  | '__2'
  | '002'
  | '15'
  | '3'
  | '03'
  | '4'
  | '04'
  | '5'
  | '05'
  | '2006'
  | '06'
  | 'PM'
  | 'pm'
  | 'MST'
  | 'Z0700'
  | 'Z070000'
  | 'Z07'
  | 'Z07:00'
  | 'Z07:00:00'
  | '-0700'
  | '-070000'
  | '-07'
  | '-07:00'
  | '-07:00:00'
  | 'frac0'
  | 'frac9';

/** One chunk: the literal text before an element, the element (undefined at the end) and the rest. */
export interface Chunk {
  readonly prefix: string;
  readonly std: Std | undefined;
  /** For frac0/frac9: the number of digits and the separator ('.' or ','). */
  readonly digits: number;
  readonly separator: string;
  readonly suffix: string;
}

/** Go's named layouts that OPA accepts by name in time.format and time.parse_ns. */
export const NAMED_LAYOUTS: Readonly<Record<string, string>> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
};

export const RFC3339 = NAMED_LAYOUTS.RFC3339 as string;
export const RFC3339_NANO = NAMED_LAYOUTS.RFC3339Nano as string;

const STD0X: readonly Std[] = ['01', '02', '03', '04', '05', '06'];
const ZONES: readonly Std[] = ['-070000', '-07:00:00', '-0700', '-07:00', '-07'];

export const isDigitAt = (s: string, i: number): boolean => i < s.length && s[i]! >= '0' && s[i]! <= '9';
const startsWithLowerCase = (s: string): boolean => s.length > 0 && s[0]! >= 'a' && s[0]! <= 'z';

/** Go's nextStdChunk: the first element of `layout`, the text before it and the text after. */
export function nextChunk(layout: string): Chunk {
  const at = (i: number, std: Std, len: number, digits = 0, separator = '.'): Chunk => ({
    prefix: layout.slice(0, i),
    std,
    digits,
    separator,
    suffix: layout.slice(i + len),
  });
  const has = (i: number, s: string): boolean => layout.startsWith(s, i);
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i] as string;
    switch (c) {
      case 'J':
        if (has(i, 'Jan')) {
          if (has(i, 'January')) return at(i, 'January', 7);
          if (!startsWithLowerCase(layout.slice(i + 3))) return at(i, 'Jan', 3);
        }
        break;
      case 'M':
        if (has(i, 'Mon')) {
          if (has(i, 'Monday')) return at(i, 'Monday', 6);
          if (!startsWithLowerCase(layout.slice(i + 3))) return at(i, 'Mon', 3);
        }
        if (has(i, 'MST')) return at(i, 'MST', 3);
        break;
      case '0': {
        const d = layout.charCodeAt(i + 1) - 48;
        if (d >= 1 && d <= 6) return at(i, STD0X[d - 1]!, 2);
        if (has(i, '002')) return at(i, '002', 3);
        break;
      }
      case '1':
        return has(i, '15') ? at(i, '15', 2) : at(i, '1', 1);
      case '2':
        return has(i, '2006') ? at(i, '2006', 4) : at(i, '2', 1);
      case '_':
        if (layout[i + 1] === '2') {
          // _2006 is a literal _ and then the long year.
          if (has(i + 1, '2006')) return { ...at(i + 1, '2006', 4) };
          return at(i, '_2', 2);
        }
        if (has(i, '__2')) return at(i, '__2', 3);
        break;
      case '3':
        return at(i, '3', 1);
      case '4':
        return at(i, '4', 1);
      case '5':
        return at(i, '5', 1);
      case 'P':
        if (layout[i + 1] === 'M') return at(i, 'PM', 2);
        break;
      case 'p':
        if (layout[i + 1] === 'm') return at(i, 'pm', 2);
        break;
      case '-':
        for (const z of ZONES) if (has(i, z)) return at(i, z, z.length);
        break;
      case 'Z':
        for (const z of ZONES) if (has(i, `Z${z.slice(1)}`)) return at(i, `Z${z.slice(1)}` as Std, z.length);
        break;
      case '.':
      case ',': {
        const ch = layout[i + 1];
        if (ch === '0' || ch === '9') {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          // The run of digits must end here: only a fractional second is all digits.
          if (!isDigitAt(layout, j)) return at(i, ch === '0' ? 'frac0' : 'frac9', j - i, (j - (i + 1)) & 0xfff, c);
        }
        break;
      }
      default:
        break;
    }
  }
  return { prefix: layout, std: undefined, digits: 0, separator: '.', suffix: '' };
}

/** Go's leadingInt: the leading [0-9]* as an exact integer (undefined on overflow past 2^63) and the rest. */
export function leadingInt(s: string): [bigint, string] | undefined {
  let i = 0;
  let x = 0n;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (x > 2n ** 63n / 10n) return undefined;
    x = x * 10n + BigInt(c - 48);
    if (x > 2n ** 63n) return undefined;
  }
  return [x, s.slice(i)];
}

/** Go's time.atoi: an optional sign, then digits to the end; undefined otherwise. */
export function atoi(s: string): number | undefined {
  let neg = false;
  let rest = s;
  if (rest[0] === '-' || rest[0] === '+') {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  const r = leadingInt(rest);
  if (r === undefined || r[1].length > 0) return undefined;
  // int(uint64) wraps in Go; the callers only see small values or reject them.
  const x = Number(BigInt.asIntN(64, r[0]));
  return neg ? -x : x;
}
