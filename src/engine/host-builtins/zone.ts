/**
 * Wall clocks in IANA time zones, from the ICU data Node ships (Intl), for the
 * time.* builtins. OPA resolves a zone with Go's time.LoadLocation: "" and "UTC"
 * are UTC, "Local" is the process's zone, anything else an IANA name (case
 * sensitive). Intl accepts names in any case and UTC offsets ("+05:00"), which
 * Go does not: those are refused here as Go refuses them.
 */
import { BuiltinCallError } from './types.js';

/** A resolved zone: undefined for UTC, else an IANA name Intl knows. */
export type Zone = string | undefined;

/** The local date and time at an instant, as Go's Time.Date and Time.Clock give them. */
export interface Wall {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone a time.* builtin names, resolved as Go's time.LoadLocation would; throws when Go fails. */
export function resolveZone(name: string): Zone {
  if (name === '' || name === 'UTC') return undefined;
  if (name === 'Local') return new Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!/^[A-Za-z]/.test(name)) throw new BuiltinCallError(`unknown time zone ${name}`);
  let resolved: string;
  try {
    resolved = formatter(name).resolvedOptions().timeZone;
  } catch {
    throw new BuiltinCallError(`unknown time zone ${name}`);
  }
  // Intl matches names case-insensitively; Go's zone files are named exactly.
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) {
    throw new BuiltinCallError(`unknown time zone ${name}`);
  }
  return name;
}

/** The wall clock at `unixSeconds` (whole seconds since the epoch) in `zone`. */
export function wallAt(unixSeconds: number, zone: Zone): Wall {
  const d = new Date(unixSeconds * 1000);
  if (zone === undefined) {
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  }
  const parts: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(d)) parts[p.type] = p.value;
  const year = Number(parts.year);
  return {
    year: parts.era === 'BC' ? 1 - year : year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/**
 * Seconds since the epoch of a wall clock read as UTC; fields out of range roll over
 * (month 13 is January of the next year, day 0 the last of the previous month), as
 * Go's time.Date normalizes them. NaN when out of Date's range.
 */
export function wallSeconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() / 1000;
}

/** The zone's offset from UTC, in seconds, at `unixSeconds`. */
export function offsetAt(unixSeconds: number, zone: Zone): number {
  if (zone === undefined) return 0;
  const w = wallAt(unixSeconds, zone);
  return wallSeconds(w.year, w.month, w.day, w.hour, w.minute, w.second) - unixSeconds;
}

/**
 * The instant of a wall clock in `zone`, as Go's time.Date picks it: the offset in force
 * at the wall time read as UTC, corrected once if that lands across a transition (so a
 * wall time skipped by a DST jump moves forward, an ambiguous one takes the first offset
 * Go's lookup finds).
 */
export function instantOfWall(wallAsUtcSeconds: number, zone: Zone): number {
  if (zone === undefined) return wallAsUtcSeconds;
  const first = offsetAt(wallAsUtcSeconds, zone);
  if (first === 0) return wallAsUtcSeconds;
  return wallAsUtcSeconds - offsetAt(wallAsUtcSeconds - first, zone);
}
