/**
 * uuid.rfc4122 and uuid.parse, as OPA computes them (v1/topdown/uuid.go,
 * internal/uuid): rfc4122 is a random version-4 UUID (node:crypto), the same for
 * the same key within one evaluation (OPA caches it per query); parse reads the
 * forms google/uuid reads (36 characters, {…}, urn:uuid:…, 32 hex digits) into
 * version and variant, plus time, node id, MAC variables and clock sequence for
 * versions 1 and 2 and id and domain for version 2, with Go's int64 arithmetic for the time.
 */
import { randomBytes } from 'node:crypto';
import { goMarshal } from './go-json.js';
import { stringArg, type EvaluationContext, type HostBuiltin } from './types.js';

// google/uuid's Parse: the 16 bytes, or undefined where it fails.
function uuidBytes(text: string): Buffer | undefined {
  let s = text;
  if (s.length === 45) {
    if (s.slice(0, 9).toLowerCase() !== 'urn:uuid:') return undefined;
    s = s.slice(9);
  } else if (s.length === 38) {
    // google/uuid drops the first and the last character, whatever they are ({…}, (…)).
    s = s.slice(1, 37);
  } else if (s.length === 32) {
    return /^[0-9a-fA-F]{32}$/.test(s) ? Buffer.from(s, 'hex') : undefined;
  }
  if (s.length !== 36 || s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return undefined;
  const hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

function variant(b: number): string {
  if ((b & 0xc0) === 0x80) return 'RFC4122';
  if ((b & 0xe0) === 0xe0) return 'Future';
  if ((b & 0xe0) === 0xc0) return 'Microsoft';
  return 'Reserved';
}

function macVariables(b: number): string {
  if ((b & 3) === 3) return 'local:multicast';
  if ((b & 1) === 1) return 'global:multicast';
  if ((b & 2) === 2) return 'local:unicast';
  return 'global:unicast';
}

const DOMAINS = ['Person', 'Group', 'Org'];
// 100-ns intervals from 1582-10-15 to the Unix epoch.
const GREGORIAN_OFFSET = 122192928000000000n;

function parsed(u: Buffer): Record<string, unknown> {
  const version = u[6]! >> 4;
  const out: Record<string, unknown> = { version, variant: variant(u[8]!) };
  if (version === 1 || version === 2) {
    const t =
      BigInt(u.readUInt32BE(0)) | (BigInt(u.readUInt16BE(4)) << 32n) | (BigInt(u.readUInt16BE(6) & 0xfff) << 48n);
    // Go's sec*1e9 + nsec, in int64: wraps for times past 2262 as Go's does.
    out.time = BigInt.asIntN(64, (t - GREGORIAN_OFFSET) * 100n);
    out.macvariables = macVariables(u[10]!);
    out.nodeid = [...u.subarray(10, 16)].map((b) => b.toString(16).padStart(2, '0')).join('-');
    out.clocksequence = u.readUInt16BE(8) & 0x3fff;
    if (version === 2) {
      out.id = u.readUInt32BE(0);
      out.domain = DOMAINS[u[9]!] ?? `Domain${u[9]}`;
    }
  }
  return out;
}

/** The uuid.* builtins; rfc4122 answers once per key within an evaluation of `context`. */
export function uuidBuiltins(context: EvaluationContext): Record<string, HostBuiltin> {
  return {
    'uuid.rfc4122': ([key]) => {
      const k = goMarshal(key?.text ?? 'null');
      let id = context.uuids.get(k);
      if (id === undefined) {
        const b = randomBytes(16);
        b[6] = (b[6]! & 0x0f) | 0x40;
        b[8] = (b[8]! & 0x3f) | 0x80;
        const h = b.toString('hex');
        id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
        context.uuids.set(k, id);
      }
      return JSON.stringify(id);
    },
    'uuid.parse': ([a]) => {
      const u = uuidBytes(stringArg(a, 1));
      if (u === undefined) return undefined;
      const out = parsed(u);
      return `{${Object.entries(out)
        .map(([k, v]) => `${JSON.stringify(k)}:${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`)
        .join(',')}}`;
    },
  };
}
