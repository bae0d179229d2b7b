/**
 * Builds policy folders and signed packs in code, with the real opa.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPack, type BuiltPack } from '../../src/pack/build.js';
import { signPack } from '../../src/sign/sign.js';
import { tempDir, writeTree } from './fs.js';

/** A minimal v1 policy folder: `allow` is true for input.user == "alice". */
export function simplePolicy(
  overrides: Record<string, string> = {},
): Record<string, string> & { 'warden.yaml': string } {
  return {
    'warden.yaml': [
      'name: simple',
      'entrypoints: [simple/allow]',
      'golden:',
      '  - { name: alice allowed, entrypoint: simple/allow, input: { user: alice }, expect: true }',
      '  - { name: bob denied, entrypoint: simple/allow, input: { user: bob }, expect: false }',
    ].join('\n'),
    'simple.rego': 'package simple\n\ndefault allow := false\n\nallow if input.user in data.simple.users\n',
    'data.json': JSON.stringify({ simple: { users: ['alice'] } }),
    ...overrides,
  };
}

/** Writes the files to a temp folder and builds a pack from it. */
export async function buildFrom(
  files: Record<string, string>,
  opts: { sequence?: number; out?: string; pathEntrypoints?: boolean } = {},
): Promise<BuiltPack> {
  const dir = await writeTree(tempDir('warden-pack-'), files);
  return buildPack({
    dir,
    sequence: opts.sequence ?? 1,
    now: new Date('2026-11-22T00:00:00Z'),
    ...(opts.out ? { out: opts.out } : {}),
    ...(opts.pathEntrypoints === undefined ? {} : { pathEntrypoints: opts.pathEntrypoints }),
  });
}

/** A fresh ECDSA P-256 key pair, as KeyObjects and PEM. */
export function p256(): { privateKey: KeyObject; publicKey: KeyObject; publicPem: string; privatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Signs bytes and returns the bundle as the bytes of its JSON. */
export async function signedBundle(pack: Uint8Array, privateKey: KeyObject): Promise<Buffer> {
  return Buffer.from(JSON.stringify(await signPack(pack, privateKey)));
}

/**
 * Writes `pack` as DIR/NAME.tar.gz with its signature by a fresh key, and the key as
 * DIR/NAME.pub; returns the lines of an agent configuration's pack entry for it (a file source).
 */
export async function signedFilePack(dir: string, name: string, pack: Uint8Array): Promise<string[]> {
  const key = p256();
  await writeFile(join(dir, `${name}.tar.gz`), pack);
  await writeFile(join(dir, `${name}.tar.gz.sigstore.json`), await signedBundle(pack, key.privateKey));
  await writeFile(join(dir, `${name}.pub`), key.publicPem);
  return [
    `  - name: ${name}`,
    `    source: { file: { path: ${name}.tar.gz } }`,
    `    verify: { public_keys: [${name}.pub] }`,
  ];
}
