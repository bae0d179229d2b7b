import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WardenError } from '../../src/errors.js';
import { locateOpa } from '../../src/opa/locate.js';
import { OPA_VERSION_PIN, PROJECT_ROOT } from '../../src/project.js';
import { tempDir } from '../helpers/fs.js';

const projectOpa = join(PROJECT_ROOT, '.tools', 'bin', 'opa');

// Writes an executable script that prints what `opa version` would.
function fakeOpa(version: string): string {
  const path = join(tempDir(), 'opa');
  writeFileSync(path, `#!/bin/sh\necho "Version: ${version}"\necho "WebAssembly: available"\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('locating opa', () => {
  it('uses the project .tools/bin opa, which reports the pinned version with wasm', () => {
    const found = locateOpa(undefined, { PATH: '' });
    assert.deepEqual(found, { path: projectOpa, version: OPA_VERSION_PIN, wasm: true });
  });

  it('prefers the configured path over WARDEN_OPA', () => {
    const configured = fakeOpa(OPA_VERSION_PIN);
    assert.equal(locateOpa(configured, { WARDEN_OPA: '/nonexistent/opa' }).path, configured);
  });

  it('prefers WARDEN_OPA over the project folder', () => {
    const fromEnv = fakeOpa(OPA_VERSION_PIN);
    assert.equal(locateOpa(undefined, { WARDEN_OPA: fromEnv }).path, fromEnv);
  });

  it('refuses a named opa that does not exist with OPA_NOT_FOUND and the fix', () => {
    assert.throws(
      () => locateOpa(undefined, { WARDEN_OPA: '/nonexistent/opa' }),
      (e: unknown) => e instanceof WardenError && e.code === 'OPA_NOT_FOUND' && /npm run install-opa/.test(e.hint),
    );
  });

  it('refuses an opa of another version with OPA_VERSION_MISMATCH instead of looking further', () => {
    assert.throws(
      () => locateOpa(fakeOpa('0.70.0')),
      (e: unknown) => e instanceof WardenError && e.code === 'OPA_VERSION_MISMATCH' && e.message.includes('0.70.0'),
    );
  });
});
