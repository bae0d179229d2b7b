/**
 * Finds the opa binary: the configured path, then $WARDEN_OPA, then the
 * project's .tools/bin, then PATH. The first candidate that exists is the one
 * used, and its version must equal the pin: a wrong version is an error, not a
 * reason to look further (that would hide a misconfiguration).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { WardenError, messageOf } from '../errors.js';
import { OPA_VERSION_PIN, PROJECT_ROOT } from '../project.js';

/** A located, version-checked opa. */
export interface OpaBinary {
  readonly path: string;
  readonly version: string;
  /** Whether this opa can evaluate wasm bundles (built with the opa_wasm tag). */
  readonly wasm: boolean;
}

const checked = new Map<string, OpaBinary>();

/** Returns the opa to use, or throws OPA_NOT_FOUND / OPA_VERSION_MISMATCH. */
export function locateOpa(configured?: string, env: NodeJS.ProcessEnv = process.env): OpaBinary {
  // An explicitly named opa that is missing is an error; the defaults are just places to look.
  const candidates: Array<{ path: string; origin: string; explicit: boolean }> = [];
  if (configured) candidates.push({ path: configured, origin: 'configuration', explicit: true });
  if (env.WARDEN_OPA) candidates.push({ path: env.WARDEN_OPA, origin: 'WARDEN_OPA', explicit: true });
  candidates.push({ path: join(PROJECT_ROOT, '.tools', 'bin', 'opa'), origin: 'project .tools/bin', explicit: false });
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    candidates.push({ path: join(dir, 'opa'), origin: 'PATH', explicit: false });
  }

  for (const { path, origin, explicit } of candidates) {
    if (isExecutable(path)) return checkVersion(path, origin);
    if (explicit) throw new WardenError('OPA_NOT_FOUND', `opa from ${origin} is not an executable file: ${path}`);
  }
  throw new WardenError('OPA_NOT_FOUND', `no opa binary found (looked in configuration, WARDEN_OPA, .tools/bin, PATH)`);
}

// True if path is a file this process may execute.
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Runs `opa version` once per path and compares it with the pin.
function checkVersion(path: string, origin: string): OpaBinary {
  const cached = checked.get(path);
  if (cached) return cached;
  let out: string;
  try {
    out = execFileSync(path, ['version'], { encoding: 'utf8', timeout: 10_000 });
  } catch (err) {
    throw new WardenError('OPA_NOT_FOUND', `opa from ${origin} (${path}) does not run: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const version = /^Version:\s*(\S+)/m.exec(out)?.[1] ?? 'unknown';
  if (version !== OPA_VERSION_PIN) {
    throw new WardenError(
      'OPA_VERSION_MISMATCH',
      `opa from ${origin} (${path}) is ${version}, Warden needs ${OPA_VERSION_PIN}`,
    );
  }
  const found: OpaBinary = { path, version, wasm: /^WebAssembly:\s*available/m.test(out) };
  checked.set(path, found);
  return found;
}
