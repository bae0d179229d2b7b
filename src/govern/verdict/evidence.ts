/**
 * Governance boot evidence: at each start the agent records which governance
 * policy it booted with, when, where and under which configuration, as
 * `<dir>/<policy sha256 hex>/boot.json`. One file per policy holds the latest
 * boot, replaced crash-safely (temp → fsync → rename → fsync dir), so an
 * auditor finds the folder from the digest alone. The caller runs this off the
 * startup critical path and decides what a failure means (strict: exit
 * non-zero; standard: log EVIDENCE_WRITE_FAILED, count it, continue).
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { WardenError, messageOf } from '../../errors.js';
import { WARDEN_VERSION } from '../../project.js';
import { fsyncDir, writeFileAtomic } from '../../util/atomic-write.js';
import { isSha256Digest } from '../../verify/digest.js';

/** The `schema` value of every boot.json this module writes. */
export const BOOT_EVIDENCE_SCHEMA = 'warden.governance.boot/v1';

/** The file name inside the policy's folder. */
export const BOOT_EVIDENCE_FILE = 'boot.json';

/** One active pack as recorded in the evidence. */
export interface EvidencePolicy {
  readonly pack: string;
  /** `sha256:<64 lowercase hex>`. */
  readonly digest: string;
  readonly revision: string;
  readonly sequence: number;
  /** The store's version number, when the pack came from the store. */
  readonly number?: number | undefined;
}

/** Where and what the agent booted with. */
export interface BootEnvironment {
  readonly name: string;
  readonly hostname: string;
  readonly pid: number;
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly warden_version: string;
}

/** The JSON written to boot.json (fields in this order). */
export interface BootEvidence {
  readonly schema: typeof BOOT_EVIDENCE_SCHEMA;
  readonly policy: EvidencePolicy;
  readonly policy_sha256: string;
  readonly packs: readonly EvidencePolicy[];
  readonly time: string;
  readonly mode: 'strict' | 'standard';
  readonly environment: BootEnvironment;
  readonly config_digest: string;
}

/** What one boot record is made from. */
export interface BootEvidenceInput {
  /** The evidence root, e.g. `<config dir>/artifacts/governance/runtime`. */
  readonly dir: string;
  /** The governance pack: the hex of its digest names the folder. */
  readonly policy: EvidencePolicy;
  /** Every active pack at boot. */
  readonly packs: readonly EvidencePolicy[];
  /** SHA-256 of the agent configuration file as loaded (`sha256:<hex>`, AgentConfig.configDigest). */
  readonly configDigest: string;
  /** The deployment environment, e.g. `production` (the caller derives it). */
  readonly environment: string;
  readonly mode: 'strict' | 'standard';
  readonly now?: () => Date;
}

/** Builds the boot record; throws POLICY_INTEGRITY_CHECK_FAILED if any digest is not `sha256:<64 hex>`. */
export function bootEvidence(input: BootEvidenceInput): BootEvidence {
  const policy = evidencePolicy(input.policy, 'policy');
  return {
    schema: BOOT_EVIDENCE_SCHEMA,
    policy,
    policy_sha256: policy.digest.slice('sha256:'.length),
    packs: input.packs.map((p, i) => evidencePolicy(p, `packs[${i}]`)),
    time: (input.now ?? (() => new Date()))().toISOString(),
    mode: input.mode,
    environment: {
      name: input.environment,
      hostname: hostname(),
      pid: process.pid,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      warden_version: WARDEN_VERSION,
    },
    config_digest: checkedDigest(input.configDigest, 'config_digest'),
  };
}

/** The path boot.json for `digest` goes to under `dir`; throws POLICY_INTEGRITY_CHECK_FAILED on a malformed digest. */
export function bootEvidencePath(dir: string, digest: string): string {
  return join(dir, checkedDigest(digest, 'policy').slice('sha256:'.length), BOOT_EVIDENCE_FILE);
}

/**
 * Writes `<dir>/<hex of policy.digest>/boot.json` crash-safely, replacing the
 * previous boot's file, and resolves to its path. Rejects with
 * POLICY_INTEGRITY_CHECK_FAILED (nothing written) on a malformed digest, and
 * with EVIDENCE_WRITE_FAILED (cause = the fs error, details.path) if the disk
 * refuses.
 */
export async function writeBootEvidence(input: BootEvidenceInput): Promise<string> {
  const path = bootEvidencePath(input.dir, input.policy.digest);
  const text = `${JSON.stringify(bootEvidence(input), null, 2)}\n`;
  try {
    await mkdirDurable(dirname(path));
    await writeFileAtomic(path, text);
  } catch (err) {
    throw new WardenError('EVIDENCE_WRITE_FAILED', `cannot write boot evidence ${path}: ${messageOf(err)}`, {
      cause: err,
      details: { path },
    });
  }
  return path;
}

// Copies the recorded fields in a fixed order (no stray properties), after checking the digest.
function evidencePolicy(p: EvidencePolicy, field: string): EvidencePolicy {
  const out = { pack: p.pack, digest: checkedDigest(p.digest, field), revision: p.revision, sequence: p.sequence };
  return p.number === undefined ? out : { ...out, number: p.number };
}

// Returns the digest if it is `sha256:<64 lowercase hex>`; anything else never reaches a path or the record.
function checkedDigest(digest: string, field: string): string {
  if (typeof digest === 'string' && isSha256Digest(digest)) return digest;
  const shown = String(digest).slice(0, 100); // hostile input: bounded before it reaches a log line
  throw new WardenError(
    'POLICY_INTEGRITY_CHECK_FAILED',
    `${field} digest ${JSON.stringify(shown)} is not sha256:<64 hex>`,
    {
      details: { field, digest: shown },
    },
  );
}

// mkdir -p, then fsyncs the parent of every folder it created so the new entries survive a crash.
async function mkdirDurable(folder: string): Promise<void> {
  const first = await mkdir(folder, { recursive: true });
  if (first === undefined) return;
  for (let d = folder; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === first || dirname(d) === d) return;
  }
}
