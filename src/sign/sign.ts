/**
 * `warden pack sign`: a Sigstore message-signature bundle over the exact pack
 * bytes, signed with a local ECDSA P-256 key, no transparency log (the same
 * shape as `cosign sign-blob --key … --tlog-upload=false --bundle`).
 */
import { sign as cryptoSign, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { MessageSignatureBundleBuilder, type Signature, type Signer } from '@sigstore/sign';
import { keyHint } from './keys.js';

/** A Signer for @sigstore/sign that holds a local private key. */
class LocalKeySigner implements Signer {
  constructor(private readonly privateKey: KeyObject) {}

  sign(data: Buffer): Promise<Signature> {
    const publicKey = createPublicKey(this.privateKey);
    return Promise.resolve({
      signature: cryptoSign('sha256', data, this.privateKey),
      key: {
        $case: 'publicKey',
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        hint: keyHint(publicKey),
      },
    });
  }
}

/** Signs the pack bytes; returns the bundle in its JSON form. */
export async function signPack(pack: Uint8Array, privateKey: KeyObject): Promise<SerializedBundle> {
  const builder = new MessageSignatureBundleBuilder({ signer: new LocalKeySigner(privateKey), witnesses: [] });
  const bundle = await builder.create({ data: Buffer.from(pack) });
  return bundleToJSON(bundle);
}
