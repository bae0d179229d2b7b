/**
 * time.parse_ns, time.parse_rfc3339_ns, time.parse_duration_ns and time.format, as
 * OPA computes them (v1/topdown/time.go) with Go's time package: layouts and
 * durations are read by go-time-parse.ts and go-duration.ts, instants written by
 * go-time-format.ts, all on exact nanosecond integers (BigInt). A named layout
 * ("RFC3339", "RFC1123Z", …) stands for Go's constant, as in OPA. A parsed time
 * outside int64 nanoseconds (before 1677-09-21 or after 2262-04-11) is an error,
 * as OPA's toSafeUnixNano makes it.
 */
import { INT64_MAX, INT64_MIN } from './exact.js';
import { NAMED_LAYOUTS, RFC3339, RFC3339_NANO } from './go-layout.js';
import { opaParseDuration } from './go-duration.js';
import { goFormat } from './go-time-format.js';
import { goParse } from './go-time-parse.js';
import { instantOf } from './time.js';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

// OPA's toSafeUnixNano: the instant as integer text, or an error outside int64 nanoseconds.
function safeNanos(ns: bigint): string {
  if (ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinCallError('time outside of valid range');
  return ns.toString();
}

const named = (layout: string): string => (Object.hasOwn(NAMED_LAYOUTS, layout) ? NAMED_LAYOUTS[layout]! : layout);

export const timeParseBuiltins: Record<string, HostBuiltin> = {
  'time.parse_ns': ([layout, value]) => {
    const l = stringArg(layout, 1);
    return safeNanos(goParse(named(l), stringArg(value, 2)));
  },
  'time.parse_rfc3339_ns': ([value]) => safeNanos(goParse(RFC3339, stringArg(value, 1))),
  'time.parse_duration_ns': ([value]) => opaParseDuration(stringArg(value, 1)).toString(),
  'time.format': ([a]) => {
    const t = instantOf(a);
    return JSON.stringify(goFormat(t, t.layout === '' ? RFC3339_NANO : named(t.layout)));
  },
};
