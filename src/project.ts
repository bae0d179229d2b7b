/**
 * Facts about the installed Warden package itself: where it lives on disk and
 * which opa version it is pinned to (package.json `config.opaVersion`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package folder: two levels above this file in both src/ and dist/. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface PackageJson {
  version: string;
  config: { opaVersion: string };
}

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as PackageJson;

/** Warden's own version. */
export const WARDEN_VERSION: string = pkg.version;

/** The opa version every command and test uses. */
export const OPA_VERSION_PIN: string = pkg.config.opaVersion;
