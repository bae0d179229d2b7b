/** The OCI source's pure parts: references and WWW-Authenticate challenges. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenge, tokenUrl } from '../../src/source/oci/auth.js';
import { formatOciReference, parseOciReference } from '../../src/source/oci/reference.js';
import { WardenError, type ErrorCode } from '../../src/errors.js';

// Asserts fn throws a WardenError of this code.
function rejectsCodeSync(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof WardenError && e.code === code);
}

describe('OCI references', () => {
  it('parses tags, digests, ports and nested repositories', () => {
    assert.deepEqual(parseOciReference('127.0.0.1:5000/policy/app:v1'), {
      registry: '127.0.0.1:5000',
      repository: 'policy/app',
      reference: 'v1',
      pinned: false,
    });
    assert.equal(parseOciReference('ghcr.io/acme/app').reference, 'latest');
    const d = `sha256:${'a'.repeat(64)}`;
    const pinned = parseOciReference(`registry.example.com/app@${d}`);
    assert.equal(pinned.pinned, true);
    assert.equal(formatOciReference(pinned), `registry.example.com/app@${d}`);
  });

  it('refuses references without a registry, bad digests and bad names', () => {
    for (const bad of ['app:v1', 'r.io/App:v1', 'r.io/app@sha256:abc', 'r.io/app:-x'])
      rejectsCodeSync(() => parseOciReference(bad), 'OCI_REFERENCE_INVALID');
  });
});

describe('WWW-Authenticate challenges', () => {
  it('reads a Bearer challenge and builds the token URL', () => {
    const c = parseChallenge(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:policy/app:pull"',
    );
    assert.equal(c?.scheme, 'bearer');
    assert.equal(
      tokenUrl(c, 'repository:x:pull'),
      'https://auth.example.com/token?service=registry.example.com&scope=repository%3Apolicy%2Fapp%3Apull',
    );
  });

  it('reads a Basic challenge; refuses a Bearer challenge without a realm', () => {
    assert.equal(parseChallenge('Basic realm="Registry Realm"')?.scheme, 'basic');
    rejectsCodeSync(
      () => tokenUrl(parseChallenge('Bearer service="x"') ?? { scheme: 'bearer', params: {} }, 's'),
      'OCI_AUTH_FAILED',
    );
  });
});
