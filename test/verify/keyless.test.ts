import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { afterEach, before, describe, it } from 'node:test';
import { WardenError, type ErrorCode } from '../../src/errors.js';
import { signPack } from '../../src/sign/sign.js';
import { keylessTrust, type Trust } from '../../src/verify/trust.js';
import { verifyPack, type VerifiedPack } from '../../src/verify/verify.js';
import {
  caAt,
  createMockSigstore,
  rogueCA,
  signKeyless,
  trustedRootJson,
  type MockSigstore,
} from '../helpers/sigstore-fixtures.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github.com/acme/policies/.github/workflows/release.yml@refs/heads/main';
const SUBJECT_REGEX = '^https://github\\.com/acme/policies/\\.github/workflows/release\\.yml@refs/heads/main$';
const PACK = Buffer.from('pretend this is a gzip-compressed policy pack\n');

// Every network attempt made while verifying; the guard also throws on each.
const attempts: string[] = [];

// Runs `work` with fetch and every socket connect (net, tls, http, undici) made to throw and be recorded.
function offline<T>(work: () => T): T {
  const { fetch } = globalThis;
  const connect = Object.getOwnPropertyDescriptor(net.Socket.prototype, 'connect');
  assert.ok(connect, 'net.Socket.prototype.connect is not an own property');
  globalThis.fetch = (input: string | URL | Request): never => {
    attempts.push(`fetch ${input instanceof Request ? input.url : String(input)}`);
    throw new Error('verification must not use the network (fetch)');
  };
  net.Socket.prototype.connect = function connectBlocked(): never {
    attempts.push('socket connect');
    throw new Error('verification must not use the network (socket connect)');
  };
  try {
    return work();
  } finally {
    globalThis.fetch = fetch;
    Object.defineProperty(net.Socket.prototype, 'connect', connect);
  }
}

// verifyPack, with the network cut off for the duration of the call.
function verifyOffline(pack: Uint8Array, bundle: Uint8Array, trust: Trust): VerifiedPack {
  return offline(() => verifyPack(pack, bundle, trust));
}

// Asserts that verification is refused with exactly `code`; returns the error for a closer look.
function refuses(pack: Uint8Array, bundle: Uint8Array, trust: Trust, code: ErrorCode): WardenError {
  let refusal: WardenError | undefined;
  assert.throws(
    () => verifyOffline(pack, bundle, trust),
    (e) => {
      assert.ok(e instanceof WardenError, `expected a WardenError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      refusal = e;
      return e instanceof WardenError && e.code === code;
    },
  );
  assert.ok(refusal);
  return refusal;
}

// The innermost message in an error's cause chain: sigstore wraps the specific reason.
function rootCause(err: unknown): string {
  let at = err;
  while (at instanceof Error && at.cause instanceof Error) at = at.cause;
  return at instanceof Error ? at.message : String(at);
}

describe('keyless verification against a pinned trusted root', () => {
  let sigstore: MockSigstore;
  let rogue: MockSigstore;
  let rootJson: string;
  let trust: Trust;

  before(async () => {
    sigstore = await createMockSigstore('trusted');
    rogue = await createMockSigstore('rogue');
    rootJson = trustedRootJson(sigstore);
    trust = keylessTrust({ trustedRootJson: rootJson, issuer: ISSUER, subjectRegex: SUBJECT_REGEX });
  });

  afterEach(() => {
    assert.deepEqual(attempts.splice(0), [], 'verification reached for the network');
  });

  // A bundle for PACK from the trusted deployment, with the identity and services overridden as given.
  function sign(overrides: Partial<Parameters<typeof signKeyless>[1]> = {}): Promise<Uint8Array> {
    return signKeyless(PACK, { issuer: ISSUER, subject: SUBJECT, ca: sigstore.ca, tlog: sigstore.tlog, ...overrides });
  }

  it('accepts a pack signed by the trusted identity and names the signer', async () => {
    const bundle = await sign();
    const verdict = verifyOffline(PACK, bundle, trust);
    assert.deepEqual(verdict.signer, { kind: 'keyless', issuer: ISSUER, subject: SUBJECT });
    assert.match(verdict.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('accepts the v0.3 bundle form, which carries a single certificate instead of a chain', async () => {
    const bundle = await sign({ form: 'v0.3' });
    assert.match(Buffer.from(bundle).toString(), /bundle\.v0\.3\+json/);
    assert.deepEqual(verifyOffline(PACK, bundle, trust).signer, { kind: 'keyless', issuer: ISSUER, subject: SUBJECT });
  });

  it('accepts a bundle that also carries an RFC 3161 timestamp from the trusted TSA', async () => {
    const bundle = await sign({ tsa: sigstore });
    assert.deepEqual(verifyOffline(PACK, bundle, trust).signer, { kind: 'keyless', issuer: ISSUER, subject: SUBJECT });
  });

  it('refuses a certificate from another OIDC issuer, even for the same subject', async () => {
    refuses(PACK, await sign({ issuer: 'https://gitlab.com' }), trust, 'IDENTITY_UNTRUSTED');
  });

  it('refuses a subject that only starts with the trusted one', async () => {
    refuses(PACK, await sign({ subject: `${SUBJECT}-evil` }), trust, 'IDENTITY_UNTRUSTED');
  });

  it('refuses a subject from another repository', async () => {
    refuses(
      PACK,
      await sign({ subject: SUBJECT.replace('acme/policies', 'acme/policies-fork') }),
      trust,
      'IDENTITY_UNTRUSTED',
    );
  });

  it('refuses to compile a subject pattern that is not anchored at both ends', () => {
    for (const subjectRegex of [
      'https://github\\.com/acme/policies/.*',
      '^https://github\\.com/acme/policies/.*',
      'https://github\\.com/acme/policies/.*$',
      '^https://github\\.com/acme/policies/.*\\$',
      '^https://github\\.com/acme/policies/.*)|(.*$', // unbalanced: would escape a group wrapped around it
    ]) {
      assert.throws(
        () => keylessTrust({ trustedRootJson: rootJson, issuer: ISSUER, subjectRegex }),
        (e) => e instanceof WardenError && e.code === 'TRUST_CONFIG_INVALID',
        subjectRegex,
      );
    }
  });

  it('anchors every alternative of an anchored pattern, not just the first and last', async () => {
    const either = keylessTrust({
      trustedRootJson: rootJson,
      issuer: ISSUER,
      subjectRegex: `${SUBJECT_REGEX.slice(0, -1)}|^https://github\\.com/acme/other/\\.github/workflows/release\\.yml@refs/heads/main$`,
    });
    assert.equal(verifyOffline(PACK, await sign(), either).signer.kind, 'keyless');
    refuses(PACK, await sign({ subject: `${SUBJECT}-evil` }), either, 'IDENTITY_UNTRUSTED');
  });

  it('refuses a certificate that had expired when the tlog entry was integrated', async () => {
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    const refusal = refuses(PACK, await sign({ ca: await caAt(sigstore, hourAgo) }), trust, 'CERTIFICATE_UNTRUSTED');
    assert.match(rootCause(refusal), /not valid or expired/);
  });

  it('refuses a tlog entry from a log that is not in the trusted root', async () => {
    refuses(PACK, await sign({ tlog: rogue.tlog }), trust, 'TLOG_UNTRUSTED');
  });

  it('refuses a certificate from a CA that is not in the trusted root', async () => {
    const refusal = refuses(PACK, await sign({ ca: rogue.ca }), trust, 'CERTIFICATE_UNTRUSTED');
    assert.match(rootCause(refusal), /no valid certificate path/);
  });

  it('refuses a certificate from an untrusted CA even when its SCT comes from the trusted CT log', async () => {
    refuses(PACK, await sign({ ca: await rogueCA(sigstore) }), trust, 'CERTIFICATE_UNTRUSTED');
  });

  it('refuses a timestamp from a TSA that is not in the trusted root', async () => {
    refuses(PACK, await sign({ tsa: rogue }), trust, 'TIMESTAMP_UNTRUSTED');
  });

  it('refuses pack bytes changed after signing', async () => {
    const bundle = await sign();
    const changed = Buffer.from(PACK);
    changed[0] = (changed[0] ?? 0) ^ 0x01;
    refuses(changed, bundle, trust, 'DIGEST_MISMATCH');
  });

  it('refuses a bare-key bundle when keyless trust is configured', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bundle = Buffer.from(JSON.stringify(await signPack(PACK, privateKey)));
    refuses(PACK, bundle, trust, 'CERTIFICATE_UNTRUSTED');
  });

  it('fails any verification that reaches for the network', async () => {
    const bundle = await sign();
    assert.throws(() => offline(() => net.connect(443, 'rekor.trusted.test')), /must not use the network/);
    assert.throws(
      () => offline(() => fetch('https://rekor.trusted.test/api/v1/log/entries')),
      /must not use the network/,
    );
    assert.deepEqual(attempts.splice(0), ['socket connect', 'fetch https://rekor.trusted.test/api/v1/log/entries']);
    assert.equal(globalThis.fetch, fetch);
    offline(() => verifyPack(PACK, bundle, trust));
    assert.deepEqual(attempts, []);
  });
});
