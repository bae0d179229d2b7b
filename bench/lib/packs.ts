/**
 * Signed pack fixtures for benchmarks: a valid `.manifest`, a golden file, a
 * policy.wasm-sized blob and data files, written with Warden's own writer and
 * signer. Bodies are random, hence incompressible, so the .tar.gz on disk is
 * the size asked for (real packs compress; this is the worst case for I/O and
 * hashing, and the easy case for inflate).
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTarGz, type TarEntry } from '../../src/pack/tar-writer.js';
import { signPack } from '../../src/sign/sign.js';

/** The shape of a pack to generate. */
export interface PackShape {
  /** Target size of the .tar.gz, in bytes (met within a few KiB). */
  readonly bytes: number;
  readonly wasmBytes: number;
  readonly dataFiles: number;
}

/** A signed pack on disk. */
export interface PackFixture {
  readonly path: string;
  /** `<path>.sigstore.json`, where `warden pack verify` looks for it. */
  readonly bundlePath: string;
  readonly bytes: number;
  readonly files: number;
}

/** An ECDSA P-256 key pair, as objects and the public PEM. */
export interface BenchKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
}

/** A fresh P-256 key pair. */
export function benchKeys(): BenchKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Writes `<dir>/<name>` and its signature bundle. */
export async function writeSignedPack(
  dir: string,
  name: string,
  shape: PackShape,
  privateKey: KeyObject,
): Promise<PackFixture> {
  const list = entries(shape);
  const pack = writeTarGz(list);
  const path = join(dir, name);
  const bundlePath = `${path}.sigstore.json`;
  await writeFile(path, pack);
  await writeFile(bundlePath, JSON.stringify(await signPack(pack, privateKey)));
  return { path, bundlePath, bytes: pack.length, files: list.length };
}

// A .manifest `warden pack verify` accepts: OPA's manifest plus Warden's marker.
function manifest(): Buffer {
  return Buffer.from(
    JSON.stringify({
      revision: 'bench-1',
      roots: [''],
      rego_version: 1,
      wasm: [{ entrypoint: 'bench/allow', module: '/policy.wasm' }],
      metadata: { warden: { format: 1, pack: 'bench', sequence: 1, created_at: '2026-01-01T00:00:00Z' } },
    }),
  );
}

// The entries: small JSON metadata, then random bodies sized so the archive meets `shape.bytes`.
function entries(shape: PackShape): TarEntry[] {
  const meta: TarEntry[] = [
    { path: '.manifest', data: manifest() },
    {
      path: 'warden.golden.json',
      data: Buffer.from('[{"name":"bench","entrypoint":"bench/allow","input":{},"expect":true}]'),
    },
    { path: 'policy.wasm', data: randomBytes(shape.wasmBytes) },
  ];
  const overhead = (meta.length + shape.dataFiles) * 1024 + 2048; // header + worst-case padding per entry, end marker
  const dataBytes = shape.bytes - shape.wasmBytes - overhead;
  const each = Math.floor(dataBytes / shape.dataFiles);
  const data = Array.from({ length: shape.dataFiles }, (_, i): TarEntry => ({
    path: `data/set-${String(i).padStart(2, '0')}/data.json`,
    data: randomBytes(i === 0 ? dataBytes - each * (shape.dataFiles - 1) : each),
  }));
  return [...meta, ...data];
}
