/**
 * The example policy (examples/authz) as benchmarks use it: built once with the
 * real opa, signed with a fresh key, written with its signature, plus the
 * inputs every decision benchmark sends and the answers they must get.
 * Versions for publish benchmarks rewrite data.json and the .manifest marker of
 * the built pack instead of rebuilding (one opa build per run).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPack, type BuiltPack } from '../../src/pack/build.js';
import { MANIFEST_PATH } from '../../src/pack/manifest.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { generateKeys } from '../../src/sign/keygen.js';
import { signPack } from '../../src/sign/sign.js';

/** examples/authz, the policy every decision benchmark evaluates. */
export const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/authz/', import.meta.url));
/** The entrypoint benchmarks decide on. */
export const ENTRYPOINT = 'authz/allow';

/** One input and the result `authz/allow` must give for it. */
export interface ExampleInput {
  readonly label: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly expect: boolean;
}

/** Two allows and two denials, through both `allow` rules. */
export const INPUTS: readonly ExampleInput[] = [
  {
    label: 'admin deletes',
    input: {
      user: { name: 'ada', roles: ['admin'], tenant: 'acme' },
      action: 'delete',
      resource: { tenant: 'globex' },
    },
    expect: true,
  },
  {
    label: 'viewer reads own tenant',
    input: { user: { name: 'vic', roles: ['viewer'], tenant: 'acme' }, action: 'read', resource: { tenant: 'acme' } },
    expect: true,
  },
  {
    label: 'viewer reads other tenant',
    input: { user: { name: 'vic', roles: ['viewer'], tenant: 'acme' }, action: 'read', resource: { tenant: 'globex' } },
    expect: false,
  },
  {
    label: 'editor deletes',
    input: {
      user: { name: 'eve', roles: ['editor', 'viewer'], tenant: 'acme' },
      action: 'delete',
      resource: { tenant: 'acme' },
    },
    expect: false,
  },
];

/** A key pair on disk (as `warden keygen` writes it) and the private key loaded. */
export interface SigningKey {
  readonly privatePath: string;
  readonly publicPath: string;
  readonly privateKey: KeyObject;
}

/** A signed pack on disk. */
export interface SignedPack {
  readonly path: string;
  readonly signaturePath: string;
  readonly built: BuiltPack;
}

/** Writes `<dir>/signing.{key,pub}`. */
export async function signingKey(dir: string): Promise<SigningKey> {
  const keys = await generateKeys(join(dir, 'signing'));
  return { ...keys, privateKey: createPrivateKey(await readFile(keys.privatePath)) };
}

/** Builds examples/authz, writes `<dir>/authz.tar.gz` and its `.sigstore.json`. */
export async function buildSignedExample(dir: string, key: SigningKey): Promise<SignedPack> {
  const path = join(dir, 'authz.tar.gz');
  const built = await buildPack({ dir: EXAMPLE_DIR, out: path, sequence: 1, revision: 'bench-1' });
  const signaturePath = `${path}.sigstore.json`;
  await writeFile(signaturePath, JSON.stringify(await signPack(built.bytes, key.privateKey)));
  return { path, signaturePath, built };
}

/**
 * A built pack's files as version n: manifest revision `<prefix>-<n>`, marker sequence n, and the
 * files in `replace` (path → new content) swapped in; re-packed. The policy is not rebuilt: versions
 * that differ only in data cost one gzip each, not one opa build.
 */
export function packVersion(
  files: ReadonlyMap<string, Buffer>,
  n: number,
  replace: ReadonlyMap<string, Buffer>,
  revisionPrefix = 'bench',
): Buffer {
  const out = new Map(files);
  const manifest = JSON.parse((out.get(MANIFEST_PATH) ?? Buffer.from('{}')).toString('utf8')) as {
    revision: string;
    metadata: { warden: { sequence: number } };
  };
  manifest.revision = `${revisionPrefix}-${n}`;
  manifest.metadata.warden.sequence = n;
  out.set(MANIFEST_PATH, Buffer.from(JSON.stringify(manifest)));
  for (const [path, data] of replace) out.set(path, data);
  return writeTarGz([...out].map(([p, d]) => ({ path: p, data: d })));
}

/** Version n of a built pack: revision `bench-<n>`, marker sequence n, data.json carrying n. */
export function exampleVersion(built: BuiltPack, n: number): Buffer {
  const data = JSON.parse((built.files.get('data.json') ?? Buffer.from('{}')).toString('utf8')) as {
    authz: Record<string, unknown>;
  };
  data.authz['bench_version'] = n;
  return packVersion(built.files, n, new Map([['data.json', Buffer.from(JSON.stringify(data))]]));
}

/** A pack and its signature, ready to publish. */
export interface Publishable {
  readonly pack: Buffer;
  readonly signature: Buffer;
}

/** Signs pack bytes. */
export async function publishable(pack: Buffer, key: KeyObject): Promise<Publishable> {
  return { pack, signature: Buffer.from(JSON.stringify(await signPack(pack, key))) };
}

/** A signing key and versions 1..count of the example pack, each signed with it (index i is version i + 1). */
export async function signedVersions(
  dir: string,
  count: number,
): Promise<{ readonly key: SigningKey; readonly versions: readonly Publishable[] }> {
  const key = await signingKey(dir);
  const base = await buildSignedExample(dir, key);
  const versions = await Promise.all(
    Array.from({ length: count }, (_, i) => publishable(exampleVersion(base.built, i + 1), key.privateKey)),
  );
  return { key, versions };
}

/**
 * Publishes as an operator should: the signature, then the pack, each written
 * to a temp file and renamed. `beforePackRename` runs just before the pack's
 * rename, for timing from that moment.
 */
export async function publish(
  target: string,
  p: Publishable,
  beforePackRename: () => void = () => undefined,
): Promise<void> {
  await writeFile(`${target}.sigstore.json.tmp`, p.signature);
  await rename(`${target}.sigstore.json.tmp`, `${target}.sigstore.json`);
  await writeFile(`${target}.tmp`, p.pack);
  beforePackRename();
  await rename(`${target}.tmp`, target);
}
