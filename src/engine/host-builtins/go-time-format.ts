/**
 * Go's Time.Format for time.format: an instant (whole seconds, nanoseconds, zone)
 * written with a Go layout (go-layout.ts). The wall clock and offset come from
 * zone.ts (Intl, to the second, so local mean time before 1900 is exact); the
 * calendar fields Go derives from it (weekday, day of the year) from luxon; the
 * zone's abbreviation from the zoneinfo files (tzif.ts).
 */
import { DateTime } from 'luxon';
import { LONG_DAYS, LONG_MONTHS, nextChunk, SHORT_DAYS, SHORT_MONTHS } from './go-layout.js';
import { zoneAbbreviation } from './tzif.js';
import { offsetAt, wallAt, type Zone } from './zone.js';

/** An instant as the time.* builtins hold it: floored seconds, nanoseconds past them, zone. */
export interface TimeValue {
  readonly sec: bigint;
  readonly nsec: bigint;
  readonly zone: Zone;
}

// Go's appendInt: the decimal, zero-padded to `width` digits after any sign.
function pad(x: number, width: number): string {
  const digits = String(Math.abs(x)).padStart(width, '0');
  return x < 0 ? `-${digits}` : digits;
}

// Go's appendNano: a fractional second of `n` digits; frac9 drops trailing zeros (and a bare separator).
function nano(nsec: number, n: number, separator: string, trim: boolean): string {
  if (trim && (n === 0 || nsec === 0)) return '';
  let s = `${separator}${pad(nsec, 9)}`;
  if (n < 9) s = s.slice(0, s.length - 9 + n);
  if (trim) s = s.replace(/0+$/, '').replace(/[.,]$/, '');
  return s;
}

// A numeric offset as Go writes it for the -0700 family (and "MST" without a name).
function numericOffset(offset: number, colon: boolean, minutes: boolean, seconds: boolean): string {
  let zone = Math.trunc(offset / 60);
  let abs = offset;
  let out = '+';
  if (zone < 0) {
    out = '-';
    zone = -zone;
    abs = -abs;
  }
  out += pad(Math.trunc(zone / 60), 2);
  if (colon) out += ':';
  if (minutes) out += pad(zone % 60, 2);
  if (seconds) out += `${colon ? ':' : ''}${pad(abs % 60, 2)}`;
  return out;
}

/** `t` written with Go's `layout`, as Go's Time.Format writes it. */
export function goFormat(t: TimeValue, layout: string): string {
  const unix = Number(t.sec);
  const wall = wallAt(unix, t.zone);
  const offset = offsetAt(unix, t.zone);
  const date = DateTime.utc(wall.year, wall.month, wall.day);
  const nsec = Number(t.nsec);
  let out = '';
  let rest = layout;
  while (rest !== '') {
    const chunk = nextChunk(rest);
    out += chunk.prefix;
    if (chunk.std === undefined) break;
    rest = chunk.suffix;
    const hour12 = wall.hour % 12 === 0 ? 12 : wall.hour % 12;
    switch (chunk.std) {
      case '06':
        out += pad(Math.abs(wall.year) % 100, 2);
        break;
      case '2006':
        out += pad(wall.year, 4);
        break;
      case 'Jan':
        out += SHORT_MONTHS[wall.month - 1]!;
        break;
      case 'January':
        out += LONG_MONTHS[wall.month - 1]!;
        break;
      case '1':
        out += String(wall.month);
        break;
      case '01':
        out += pad(wall.month, 2);
        break;
      case 'Mon':
        out += SHORT_DAYS[date.weekday % 7]!;
        break;
      case 'Monday':
        out += LONG_DAYS[date.weekday % 7]!;
        break;
      case '2':
        out += String(wall.day);
        break;
      case '_2':
        out += wall.day < 10 ? ` ${wall.day}` : String(wall.day);
        break;
      case '02':
        out += pad(wall.day, 2);
        break;
      case '__2':
        out += String(date.ordinal).padStart(3, ' ');
        break;
      case '002':
        out += pad(date.ordinal, 3);
        break;
      case '15':
        out += pad(wall.hour, 2);
        break;
      case '3':
        out += String(hour12);
        break;
      case '03':
        out += pad(hour12, 2);
        break;
      case '4':
        out += String(wall.minute);
        break;
      case '04':
        out += pad(wall.minute, 2);
        break;
      case '5':
        out += String(wall.second);
        break;
      case '05':
        out += pad(wall.second, 2);
        break;
      case 'PM':
        out += wall.hour >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += wall.hour >= 12 ? 'pm' : 'am';
        break;
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
        if (offset === 0 && std.startsWith('Z')) {
          out += 'Z';
          break;
        }
        out += numericOffset(
          offset,
          std.includes(':'),
          !std.endsWith('07'),
          std.endsWith('0000') || std.endsWith(':00:00'),
        );
        break;
      }
      case 'MST':
        out += t.zone === undefined ? 'UTC' : zoneAbbreviation(t.zone, unix, offset);
        break;
      case 'frac0':
      case 'frac9':
        out += nano(nsec, chunk.digits, chunk.separator, chunk.std === 'frac9');
        break;
    }
  }
  return out;
}
