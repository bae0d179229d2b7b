// Builds a private Sigstore in-process (CA + CT log, Rekor, TSA from @sigstore/mock),
// its trusted_root.json, and keyless bundles signed through it. No network: the mock
// services are called as plain functions, never over HTTP.
import { createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { bundleToJSON, type TransparencyLogEntry } from '@sigstore/bundle';
import { initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler } from '@sigstore/mock';
import {
  MessageSignatureBundleBuilder,
  type Signature,
  type SignatureBundle,
  type Signer,
  type VerificationMaterial,
  type Witness,
} from '@sigstore/sign';

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };
export type MockCA = Awaited<ReturnType<typeof initializeCA>>;
export type MockCTLog = Awaited<ReturnType<typeof initializeCTLog>>;
export type MockTLog = Awaited<ReturnType<typeof initializeTLog>>;
export type MockTSA = Awaited<ReturnType<typeof initializeTSA>>;

/** One private Sigstore deployment: a Fulcio-like CA with its CT log, a Rekor-like log and a TSA. */
export interface MockSigstore {
  readonly name: string;
  readonly caKeys: KeyPair;
  readonly tsaKeys: KeyPair;
  readonly ca: MockCA;
  readonly ctlog: MockCTLog;
  readonly tlog: MockTLog;
  readonly tsa: MockTSA;
  /** Base URL of the Rekor log; its host is the checkpoint origin, so the trusted root must name it. */
  readonly rekorURL: string;
}

/** OIDs Fulcio uses for the OIDC issuer: v1 holds raw bytes, v2 a UTF8String. */
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const DAY_MS = 24 * 60 * 60 * 1000;

// A fresh ECDSA P-256 key pair, the only kind the mock services sign with.
function p256(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** Stands up a deployment with fresh keys; `name` keeps hosts apart (rekor.<name>.test). */
export async function createMockSigstore(name: string): Promise<MockSigstore> {
  const caKeys = p256();
  const tsaKeys = p256();
  const ctlog = await initializeCTLog(p256());
  const rekorURL = `https://rekor.${name}.test`;
  return {
    name,
    caKeys,
    tsaKeys,
    ca: await initializeCA(caKeys, ctlog),
    ctlog,
    tlog: await initializeTLog(rekorURL, p256()),
    tsa: await initializeTSA(tsaKeys),
    rekorURL,
  };
}

/** The deployment's CA key and CT log, but issuing certificates as if the time were `clock` (10-minute validity). */
export function caAt(sigstore: MockSigstore, clock: Date): Promise<MockCA> {
  return initializeCA(sigstore.caKeys, sigstore.ctlog, clock);
}

/** A Fulcio-like CA with its own key, logging to `sigstore`'s CT log: a CA the trusted root does not name. */
export function rogueCA(sigstore: MockSigstore): Promise<MockCA> {
  return initializeCA(p256(), sigstore.ctlog);
}

// protobuf-specs JSON for a log's public key and id (SHA-256 of its DER SPKI).
function logInstance(baseUrl: string, spki: Buffer, validFrom: string): object {
  return {
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: spki.toString('base64'),
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      validFor: { start: validFrom },
    },
    logId: { keyId: createHash('sha256').update(spki).digest('base64') },
  };
}

// DER bytes of a certificate the mock hands back, as base64.
function der(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/** The trusted_root.json (protobuf-specs TrustedRoot JSON form) naming exactly this deployment. */
export function trustedRootJson(sigstore: MockSigstore): string {
  const validFrom = new Date(Date.now() - DAY_MS).toISOString();
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [logInstance(sigstore.rekorURL, sigstore.tlog.publicKey, validFrom)],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: `https://fulcio.${sigstore.name}.test`,
        certChain: { certificates: [{ rawBytes: der(sigstore.ca.rootCertificate) }] },
        validFor: { start: validFrom },
      },
    ],
    ctlogs: [logInstance(`https://ctfe.${sigstore.name}.test`, sigstore.ctlog.publicKey, validFrom)],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: `https://tsa.${sigstore.name}.test`,
        certChain: {
          certificates: [
            { rawBytes: der(sigstore.tsa.intCertificate) },
            { rawBytes: der(sigstore.tsa.rootCertificate) },
          ],
        },
        validFor: { start: validFrom },
      },
    ],
  });
}

/** How to sign: who the certificate names, which services take part, which bundle form comes out. */
export interface KeylessSignOptions {
  readonly issuer: string;
  readonly subject: string;
  readonly ca: MockCA;
  readonly tlog: MockTLog;
  /** Adds an RFC 3161 timestamp from this deployment's TSA beside the tlog entry. */
  readonly tsa?: MockSigstore;
  /** v0.2 carries the leaf as a one-element chain (what MessageSignatureBundleBuilder writes); v0.3 as a single certificate. */
  readonly form?: 'v0.2' | 'v0.3';
}

/** Signs `pack` keylessly (ephemeral key + short-lived certificate + tlog entry); returns the .sigstore.json bytes. */
export async function signKeyless(pack: Uint8Array, options: KeylessSignOptions): Promise<Uint8Array> {
  const witnesses: Witness[] = [new MockRekorWitness(options.tlog)];
  if (options.tsa) witnesses.push(new MockTSAWitness(options.tsa.tsaKeys));
  const builder = new MessageSignatureBundleBuilder({ signer: new EphemeralCertSigner(options), witnesses });
  const bundle = await builder.create({ data: Buffer.from(pack) });
  if (options.form === 'v0.3') {
    const content = bundle.verificationMaterial.content;
    if (content?.$case !== 'x509CertificateChain') throw new Error('expected the builder to write a certificate chain');
    const leaf = content.x509CertificateChain.certificates[0];
    if (!leaf) throw new Error('the builder wrote an empty certificate chain');
    bundle.mediaType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    bundle.verificationMaterial.content = { $case: 'certificate', certificate: leaf };
  }
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
}

// A Fulcio-style signer: a fresh key per signature, certified by the mock CA for one identity.
class EphemeralCertSigner implements Signer {
  constructor(private readonly options: KeylessSignOptions) {}

  async sign(data: Buffer): Promise<Signature> {
    const { publicKey, privateKey } = p256();
    const cert = await this.options.ca.issueCertificate({
      publicKey: publicKey.export({ type: 'spki', format: 'der' }),
      subjectAltName: this.options.subject,
      extensions: [
        { oid: OID_ISSUER_V1, value: this.options.issuer, legacy: true },
        { oid: OID_ISSUER_V2, value: this.options.issuer },
      ],
    });
    const pem = `-----BEGIN CERTIFICATE-----\n${der(cert)}\n-----END CERTIFICATE-----\n`;
    return { signature: cryptoSign('sha256', data, privateKey), key: { $case: 'x509Certificate', certificate: pem } };
  }
}

// A mock handler's reply body as text, for error messages.
function replyText({ response }: { response: string | ArrayBufferView }): string {
  return typeof response === 'string'
    ? response
    : Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString('utf8');
}

/** The v1 Rekor answer for one entry, as the mock writes it. */
interface RekorEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    signedEntryTimestamp: string;
    inclusionProof: { logIndex: number; treeSize: number; rootHash: string; hashes: string[]; checkpoint: string };
  };
}

// Uploads a hashedrekord entry by calling the mock Rekor handler directly, as sigstore-js's RekorWitness would over HTTP.
class MockRekorWitness implements Witness {
  constructor(private readonly tlog: MockTLog) {}

  async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
    if (content.$case !== 'messageSignature') throw new Error('only message signatures are logged here');
    const { messageDigest, signature } = content.messageSignature;
    if (!messageDigest) throw new Error('the message signature has no digest');
    const proposed = {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: messageDigest.digest.toString('hex') } },
        signature: {
          content: signature.toString('base64'),
          publicKey: { content: Buffer.from(publicKey).toString('base64') },
        },
      },
    };
    const reply = await rekorHandler(this.tlog).fn(JSON.stringify(proposed));
    if (reply.statusCode !== 201 || typeof reply.response !== 'string')
      throw new Error(`mock rekor refused the entry: ${replyText(reply)}`);
    const entries = Object.values(JSON.parse(reply.response) as Record<string, RekorEntry>);
    const entry = entries[0];
    if (entries.length !== 1 || !entry) throw new Error('mock rekor returned other than one entry');
    return { tlogEntries: [toTransparencyLogEntry(entry)] };
  }
}

// Rekor's v1 answer → the bundle's TransparencyLogEntry (mirrors sigstore-js's RekorWitness).
function toTransparencyLogEntry(entry: RekorEntry): TransparencyLogEntry {
  const body = Buffer.from(entry.body, 'base64');
  const { kind, apiVersion } = JSON.parse(body.toString('utf8')) as { kind: string; apiVersion: string };
  const proof = entry.verification.inclusionProof;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: Buffer.from(entry.logID, 'hex') },
    kindVersion: { kind, version: apiVersion },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: Buffer.from(entry.verification.signedEntryTimestamp, 'base64') },
    inclusionProof: {
      logIndex: String(proof.logIndex),
      treeSize: String(proof.treeSize),
      rootHash: Buffer.from(proof.rootHash, 'hex'),
      hashes: proof.hashes.map((h) => Buffer.from(h, 'hex')),
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: body,
  };
}

// Timestamps the signature by calling the mock TSA handler directly, with sigstore-js's request shape.
// The TSA is re-made per call with the deployment's key and a whole-second clock: @sigstore/core
// 3.x parses genTime fractions only as exactly 3 digits, but DER drops trailing zeros (.120 → .12),
// so a millisecond clock fails ~1 run in 10 with "invalid time". Its certificates are the
// same key and names as the ones in the trusted root, so verification still uses those.
class MockTSAWitness implements Witness {
  constructor(private readonly keys: KeyPair) {}

  async testify(content: SignatureBundle): Promise<VerificationMaterial> {
    if (content.$case !== 'messageSignature') throw new Error('only message signatures are timestamped here');
    const artifactHash = createHash('sha256').update(content.messageSignature.signature).digest('base64');
    const tsa = await initializeTSA(this.keys, new Date(Math.floor(Date.now() / 1000) * 1000));
    const reply = await tsaHandler(tsa).fn(JSON.stringify({ artifactHash, hashAlgorithm: 'sha256' }));
    if (reply.statusCode !== 201 || typeof reply.response === 'string')
      throw new Error(`mock TSA refused: ${replyText(reply)}`);
    const view = reply.response;
    return { rfc3161Timestamps: [{ signedTimestamp: Buffer.from(view.buffer, view.byteOffset, view.byteLength) }] };
  }
}
