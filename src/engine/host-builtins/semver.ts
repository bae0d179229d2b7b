/**
 * semver.compare and semver.is_valid with the semver package, in OPA's grammar:
 * SemVer 2.0.0 (no leading zeros, non-empty identifiers) with an optional leading
 * "v", and MAJOR.MINOR.PATCH up to 2^63-1. The package reads the pre-release and
 * build parts and orders pre-releases; the three numbers are read here, as BigInt,
 * because the package refuses numbers past 2^53 (and accepts a leading "=" and
 * spaces, which OPA refuses).
 */
import { SemVer, compare } from 'semver';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

const MAIN = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)([-+].*)?$/s;
const INT64_MAX = 2n ** 63n - 1n;

interface Version {
  readonly main: readonly [bigint, bigint, bigint];
  /** 0.0.0 with the version's pre-release and build parts. */
  readonly rest: SemVer;
}

/** The version `text` denotes, as OPA parses it; throws when OPA finds it invalid. */
function parseVersion(text: string, position: number): Version {
  const invalid = new BuiltinCallError(`operand ${position}: string ${text} is not a valid SemVer`);
  const m = MAIN.exec(text);
  if (!m || /\s/.test(text)) throw invalid;
  const main = [BigInt(m[1] ?? ''), BigInt(m[2] ?? ''), BigInt(m[3] ?? '')] as const;
  if (main.some((n) => n > INT64_MAX)) throw invalid;
  try {
    return { main, rest: new SemVer(`0.0.0${m[4] ?? ''}`) };
  } catch {
    throw invalid;
  }
}

function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    const x = a.main[i] as bigint;
    const y = b.main[i] as bigint;
    if (x !== y) return x > y ? 1 : -1;
  }
  return compare(a.rest, b.rest);
}

export const semverBuiltins: Record<string, HostBuiltin> = {
  'semver.compare': ([a, b]) => {
    const x = parseVersion(stringArg(a, 1), 1);
    const y = parseVersion(stringArg(b, 2), 2);
    return String(compareVersions(x, y));
  },
  'semver.is_valid': ([a]) => {
    if (typeof a?.value !== 'string') return 'false';
    try {
      parseVersion(a.value, 1);
      return 'true';
    } catch {
      return 'false';
    }
  },
};
