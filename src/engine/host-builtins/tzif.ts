/**
 * Time zone abbreviations ("EST", "CEST", "+0545"), for the "MST" element of
 * time.format's layouts. Intl has no such names (it writes "GMT+1"), so they are
 * read from the system's zoneinfo files (TZif), which is where Go's
 * time.LoadLocation, and so OPA, reads them first: the type in force at the
 * instant, or past the last transition the name in the file's footer rule whose
 * offset is the one in force. Without a zoneinfo file the name is Go's numeric
 * form of the offset ("+05", "-0330"), as tzdata itself writes zones without an
 * abbreviation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ZoneType {
  readonly offset: number;
  readonly isDst: boolean;
  readonly name: string;
}

interface ZoneFile {
  readonly transitions: readonly number[];
  readonly typeOf: readonly number[];
  readonly types: readonly ZoneType[];
  /** The footer rule's names with their offsets (seconds east of UTC). */
  readonly footer: ReadonlyArray<{ name: string; offset: number }>;
}

const ZONEINFO = process.env.ZONEINFO ?? '/usr/share/zoneinfo';
const files = new Map<string, ZoneFile | undefined>();

// A POSIX TZ string's names and offsets: "EST5EDT,M3.2.0,M11.1.0", "<+0545>-5:45".
function footerNames(tz: string): Array<{ name: string; offset: number }> {
  const out: Array<{ name: string; offset: number }> = [];
  const re = /(<[^>]*>|[A-Za-z]{3,})([-+]?\d{1,3}(?::\d{1,2}){0,2})?/y;
  let at = 0;
  let std = 0;
  for (let k = 0; k < 2 && at < tz.length && tz[at] !== ','; k++) {
    re.lastIndex = at;
    const m = re.exec(tz);
    if (!m) break;
    const name = (m[1] ?? '').replace(/^<|>$/g, '');
    let offset: number;
    if (m[2] !== undefined) {
      const [h = '0', mi = '0', s = '0'] = m[2].replace(/^[-+]/, '').split(':');
      const secs = Number(h) * 3600 + Number(mi) * 60 + Number(s);
      // POSIX offsets are west of UTC.
      offset = m[2].startsWith('-') ? secs : -secs;
    } else {
      offset = std + 3600; // a DST name without an offset is an hour ahead
    }
    if (k === 0) std = offset;
    out.push({ name, offset });
    at = re.lastIndex;
  }
  return out;
}

function parseZoneFile(buf: Buffer): ZoneFile | undefined {
  if (buf.length < 44 || buf.toString('latin1', 0, 4) !== 'TZif') return undefined;
  const counts = (at: number): number[] => [0, 1, 2, 3, 4, 5].map((i) => buf.readUInt32BE(at + 20 + 4 * i));
  let [isut, isstd, leap, time, type, chars] = counts(0) as [number, number, number, number, number, number];
  let at = 44;
  let timeSize = 4;
  if (buf[4]! >= 0x32) {
    // Version 2+: skip the 32-bit block, read the 64-bit one.
    at += time * 5 + type * 6 + chars + leap * 8 + isstd + isut;
    [isut, isstd, leap, time, type, chars] = counts(at) as [number, number, number, number, number, number];
    at += 44;
    timeSize = 8;
  }
  const transitions: number[] = [];
  for (let i = 0; i < time; i++) {
    transitions.push(timeSize === 8 ? Number(buf.readBigInt64BE(at + 8 * i)) : buf.readInt32BE(at + 4 * i));
  }
  at += time * timeSize;
  const typeOf = [...buf.subarray(at, at + time)];
  at += time;
  const raw: Array<[number, boolean, number]> = [];
  for (let i = 0; i < type; i++)
    raw.push([buf.readInt32BE(at + 6 * i), buf[at + 6 * i + 4] !== 0, buf[at + 6 * i + 5]!]);
  at += type * 6;
  const names = buf.subarray(at, at + chars);
  const types = raw.map(([offset, isDst, idx]) => {
    const end = names.indexOf(0, idx);
    return { offset, isDst, name: names.toString('latin1', idx, end < 0 ? names.length : end) };
  });
  at += chars + leap * (timeSize + 4) + isstd + isut;
  const footer = timeSize === 8 ? (buf.toString('latin1', at).split('\n')[1] ?? '') : '';
  return { transitions, typeOf, types, footer: footerNames(footer) };
}

function zoneFile(zone: string): ZoneFile | undefined {
  if (!files.has(zone)) {
    let file: ZoneFile | undefined;
    try {
      file = parseZoneFile(readFileSync(join(ZONEINFO, zone)));
    } catch {
      file = undefined;
    }
    files.set(zone, file);
  }
  return files.get(zone);
}

// Go's lookupFirstZone: the type in force before the first transition.
function firstType(f: ZoneFile): number {
  if (!f.typeOf.includes(0)) return 0;
  const first = f.typeOf[0];
  if (first !== undefined && f.types[first]?.isDst) {
    for (let i = first - 1; i >= 0; i--) if (!f.types[i]?.isDst) return i;
  }
  const std = f.types.findIndex((t) => !t.isDst);
  return std < 0 ? 0 : std;
}

/** Go's numeric stand-in for a zone without a name: "+05", "-0330". */
export function numericZoneName(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const minutes = Math.trunc(Math.abs(offset) / 60);
  const hh = String(Math.trunc(minutes / 60)).padStart(2, '0');
  return minutes % 60 === 0 ? `${sign}${hh}` : `${sign}${hh}${String(minutes % 60).padStart(2, '0')}`;
}

/** The abbreviation of `zone` (an IANA name) at `unixSeconds`, where its offset is `offset` seconds. */
export function zoneAbbreviation(zone: string, unixSeconds: number, offset: number): string {
  const f = zoneFile(zone);
  if (f === undefined || f.types.length === 0) return numericZoneName(offset);
  const tx = f.transitions;
  if (tx.length === 0 || unixSeconds < tx[0]!) return f.types[firstType(f)]?.name ?? numericZoneName(offset);
  let lo = 0;
  let hi = tx.length;
  while (hi - lo > 1) {
    const m = (lo + hi) >> 1;
    if (unixSeconds < tx[m]!) hi = m;
    else lo = m;
  }
  if (lo === tx.length - 1) {
    const rule = f.footer.find((r) => r.offset === offset);
    if (rule !== undefined) return rule.name;
  }
  return f.types[f.typeOf[lo]!]?.name ?? numericZoneName(offset);
}
