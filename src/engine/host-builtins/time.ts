/**
 * time.now_ns, time.date, time.clock, time.weekday, time.add_date and time.diff,
 * as OPA computes them (v1/topdown/time.go), on exact nanosecond integers
 * (BigInt): a timestamp is read from the argument's JSON text, never through a
 * double, and written back as integer text.
 *
 * time.parse_ns, time.parse_rfc3339_ns, time.parse_duration_ns and time.format,
 * which read and write Go's time layouts, are in time-parse.ts; they share this
 * file's reading of a time operand (instantOf).
 */
import { floorDiv, INT64_MAX, INT64_MIN, integerOf } from './exact.js';
import { resolveZone, wallAt, wallSeconds, instantOfWall, type Wall, type Zone } from './zone.js';
import { BuiltinCallError, type EvaluationContext, type HostArg, type HostBuiltin } from './types.js';

const NS = 1_000_000_000n;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** An instant: whole seconds since the epoch (floored), the nanoseconds past them, its zone, and a layout. */
export interface Instant {
  readonly sec: bigint;
  readonly nsec: bigint;
  readonly zone: Zone;
  /** The third member of [ns, zone, layout] ("" without one), for time.format. */
  readonly layout: string;
}

// An exact integer from a number's JSON text, as OPA's tzTime wants it (int64, no fraction).
function nanos(text: string): bigint {
  const ns = integerOf(text);
  if (ns === undefined || ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinCallError('timestamp too big');
  return ns;
}

/** OPA's tzTime: a number (ns, UTC) or [ns, zone, layout…]. */
export function instantOf(arg: HostArg | undefined): Instant {
  const v = arg?.value;
  let ns: bigint;
  let zone: Zone;
  let layout = '';
  if (typeof v === 'number') {
    ns = nanos(arg?.text ?? '');
  } else if (Array.isArray(v) && v.length > 0) {
    if (typeof v[0] !== 'number') throw new BuiltinCallError('operand 1 must be a number');
    // The first member's text, read from the array's JSON text (the engine writes it without spaces).
    const first = /^\[\s*(-?[0-9.eE+-]+)/.exec(arg?.text ?? '')?.[1];
    ns = nanos(first ?? '');
    if (v.length > 1) {
      if (typeof v[1] !== 'string') throw new BuiltinCallError('operand 1 must be a string');
      zone = resolveZone(v[1]);
    }
    if (v.length > 2) {
      if (typeof v[2] !== 'string') throw new BuiltinCallError('operand 1 must be a string');
      layout = v[2];
    }
  } else {
    throw new BuiltinCallError('operand 1 must be either number (ns) or [number (ns), string (tz)]');
  }
  const sec = floorDiv(ns, NS);
  return { sec, nsec: ns - sec * NS, zone, layout };
}

function wallOf(t: Instant): Wall {
  return wallAt(Number(t.sec), t.zone);
}

// An int operand (years, months, days), as OPA's IntOperand reads it: integer digits
// (no fraction, no exponent) within int64.
function intOf(arg: HostArg | undefined, position: number): number {
  const text = arg?.text ?? '';
  const n = typeof arg?.value === 'number' && /^-?\d+$/.test(text) ? BigInt(text) : undefined;
  if (n === undefined || n < INT64_MIN || n > INT64_MAX) {
    throw new BuiltinCallError(`operand ${position} must be an integer`);
  }
  return Number(n);
}

// OPA's toSafeUnixNano: the instant as integer text, or an error outside int64 nanoseconds.
function safeNanos(sec: number, nsec: bigint): string {
  if (!Number.isFinite(sec)) throw new BuiltinCallError('time outside of valid range');
  const ns = BigInt(sec) * NS + nsec;
  if (ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinCallError('time outside of valid range');
  return ns.toString();
}

/** The time.* builtins, sharing `context` (time.now_ns is fixed per evaluation). */
export function timeBuiltins(context: EvaluationContext): Record<string, HostBuiltin> {
  return {
    'time.now_ns': () => {
      context.nowNs ??= BigInt(Date.now()) * 1_000_000n;
      return context.nowNs.toString();
    },
    'time.date': ([a]) => {
      const w = wallOf(instantOf(a));
      return JSON.stringify([w.year, w.month, w.day]);
    },
    'time.clock': ([a]) => {
      const w = wallOf(instantOf(a));
      return JSON.stringify([w.hour, w.minute, w.second]);
    },
    'time.weekday': ([a]) => {
      const w = wallOf(instantOf(a));
      return JSON.stringify(WEEKDAYS[new Date(wallSeconds(w.year, w.month, w.day, 0, 0, 0) * 1000).getUTCDay()]);
    },
    'time.add_date': ([a, years, months, days]) => {
      const t = instantOf(a);
      const y = intOf(years, 2);
      const m = intOf(months, 3);
      const d = intOf(days, 4);
      const w = wallOf(t);
      // Go's AddDate: time.Date(year+y, month+m, day+d, hour, min, sec, nsec, loc), normalized.
      const wall = wallSeconds(w.year + y, w.month + m, w.day + d, w.hour, w.minute, w.second);
      return safeNanos(Number.isFinite(wall) ? instantOfWall(wall, t.zone) : NaN, t.nsec);
    },
    'time.diff': ([a, b]) => diff(instantOf(a), instantOf(b)),
  };
}

// OPA's builtinDiff (after icza/gox): calendar difference between two instants, in the first one's zone.
function diff(a: Instant, b: Instant): string {
  let t1 = a;
  let t2: Instant = { ...b, zone: a.zone };
  if (t1.sec > t2.sec || (t1.sec === t2.sec && t1.nsec > t2.nsec)) [t1, t2] = [t2, t1];
  const w1 = wallOf(t1);
  const w2 = wallOf(t2);
  let year = w2.year - w1.year;
  let month = w2.month - w1.month;
  let day = w2.day - w1.day;
  let hour = w2.hour - w1.hour;
  let min = w2.minute - w1.minute;
  let sec = w2.second - w1.second;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    // Days in t1's month: time.Date(y1, M1, 32) rolls into the next month by that many days.
    const rolled = new Date(wallSeconds(w1.year, w1.month, 32, 0, 0, 0) * 1000).getUTCDate();
    day += 32 - rolled;
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return JSON.stringify([year, month, day, hour, min, sec]);
}
