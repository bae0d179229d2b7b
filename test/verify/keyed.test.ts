import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { WardenError, type ErrorCode } from '../../src/errors.js';
import { keyHint } from '../../src/sign/keys.js';
import { keyTrust } from '../../src/verify/trust.js';
import { verifyPack } from '../../src/verify/verify.js';
import { p256, signedBundle } from '../helpers/packs.js';

const pack = Buffer.from('pretend these are the bytes of a pack.tar.gz');
const signer = p256();
const other = p256();
const trust = keyTrust({ publicKeys: [{ pem: signer.publicPem, name: 'release' }] });

// Asserts that fn throws a WardenError with this code.
function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof WardenError && e.code === code, `expected ${code}`);
}

// Parses a bundle's JSON, lets the test change it, and serialises it again.
type BundleJson = {
  messageSignature: { signature: string; messageDigest: { digest: string } };
  verificationMaterial: { publicKey?: { hint: string } };
};
function edit(bundle: Buffer, change: (b: BundleJson) => void): Buffer {
  const json = JSON.parse(bundle.toString('utf8')) as Parameters<typeof change>[0];
  change(json);
  return Buffer.from(JSON.stringify(json));
}

describe('key-based verification', () => {
  it('accepts a pack signed by a trusted key and names the signer', async () => {
    const verdict = verifyPack(pack, await signedBundle(pack, signer.privateKey), trust);
    assert.match(verdict.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(verdict.signer, { kind: 'key', hint: keyHint(signer.publicKey), name: 'release' });
  });

  it('accepts any configured key, so keys can be rotated', async () => {
    const rotated = keyTrust({
      publicKeys: [
        { pem: other.publicPem, name: 'old' },
        { pem: signer.publicPem, name: 'new' },
      ],
    });
    const verdict = verifyPack(pack, await signedBundle(pack, signer.privateKey), rotated);
    assert.equal(verdict.signer.kind === 'key' && verdict.signer.name, 'new');
  });

  it('still finds the key when the bundle carries no hint', async () => {
    const bundle = edit(await signedBundle(pack, signer.privateKey), (b) => {
      if (b.verificationMaterial.publicKey) b.verificationMaterial.publicKey.hint = '';
    });
    assert.equal(verifyPack(pack, bundle, trust).signer.kind, 'key');
  });

  it('is synchronous: the verdict is a value, not a promise', async () => {
    const verdict: unknown = verifyPack(pack, await signedBundle(pack, signer.privateKey), trust);
    assert.ok(!(verdict instanceof Promise));
  });

  it('refuses an unsigned pack with SIGNATURE_MISSING', () => {
    throwsCode(() => verifyPack(pack, undefined, trust), 'SIGNATURE_MISSING');
    throwsCode(() => verifyPack(pack, Buffer.alloc(0), trust), 'SIGNATURE_MISSING');
  });

  it('refuses a bundle that is not JSON, not a bundle or too large with SIGNATURE_BUNDLE_MALFORMED', () => {
    throwsCode(() => verifyPack(pack, Buffer.from('{not json'), trust), 'SIGNATURE_BUNDLE_MALFORMED');
    throwsCode(() => verifyPack(pack, Buffer.from('{"mediaType":"nope"}'), trust), 'SIGNATURE_BUNDLE_MALFORMED');
    throwsCode(() => verifyPack(pack, Buffer.from('[]'), trust), 'SIGNATURE_BUNDLE_MALFORMED');
    throwsCode(() => verifyPack(pack, Buffer.alloc(2 * 1024 * 1024, 32), trust), 'SIGNATURE_BUNDLE_MALFORMED');
  });

  it('refuses a pack signed by an untrusted key with SIGNATURE_KEY_UNKNOWN', async () => {
    const bundle = await signedBundle(pack, other.privateKey);
    throwsCode(() => verifyPack(pack, bundle, trust), 'SIGNATURE_KEY_UNKNOWN');
  });

  it('refuses a forged signature under a trusted key hint with SIGNATURE_INVALID', async () => {
    const forged = await signedBundle(pack, other.privateKey);
    const genuine = JSON.parse((await signedBundle(pack, signer.privateKey)).toString()) as {
      verificationMaterial: unknown;
    };
    const bundle = edit(forged, (b) => {
      b.verificationMaterial = genuine.verificationMaterial as typeof b.verificationMaterial;
    });
    throwsCode(() => verifyPack(pack, bundle, trust), 'SIGNATURE_INVALID');
  });

  it('refuses a flipped signature byte with SIGNATURE_INVALID', async () => {
    const bundle = edit(await signedBundle(pack, signer.privateKey), (b) => {
      const sig = Buffer.from(b.messageSignature.signature, 'base64');
      sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 1;
      b.messageSignature.signature = sig.toString('base64');
    });
    throwsCode(() => verifyPack(pack, bundle, trust), 'SIGNATURE_INVALID');
  });

  it('refuses pack bytes that differ from the signed digest with DIGEST_MISMATCH', async () => {
    const bundle = await signedBundle(pack, signer.privateKey);
    throwsCode(() => verifyPack(Buffer.concat([pack, Buffer.from('x')]), bundle, trust), 'DIGEST_MISMATCH');
  });

  it('refuses a bundle whose digest was rewritten to match other bytes with SIGNATURE_INVALID', async () => {
    const tampered = Buffer.from('tampered pack bytes');
    const { createHash } = await import('node:crypto');
    const bundle = edit(await signedBundle(pack, signer.privateKey), (b) => {
      b.messageSignature.messageDigest.digest = createHash('sha256').update(tampered).digest('base64');
    });
    throwsCode(() => verifyPack(tampered, bundle, trust), 'SIGNATURE_INVALID');
  });

  it('refuses bytes that differ from an announced digest with DIGEST_MISMATCH', async () => {
    const bundle = await signedBundle(pack, signer.privateKey);
    throwsCode(
      () => verifyPack(pack, bundle, trust, { expectedDigest: `sha256:${'0'.repeat(64)}` }),
      'DIGEST_MISMATCH',
    );
  });

  it('refuses trust without keys, and keys that are not ECDSA P-256', () => {
    throwsCode(() => keyTrust({ publicKeys: [] }), 'TRUST_CONFIG_INVALID');
    throwsCode(() => keyTrust({ publicKeys: [{ pem: 'not a key' }] }), 'KEY_INVALID');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    throwsCode(() => keyTrust({ publicKeys: [{ pem: rsa }] }), 'KEY_INVALID');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    throwsCode(() => keyTrust({ publicKeys: [{ pem: p384 }] }), 'KEY_INVALID');
  });
});
