/**
 * Many versions of one pack without one opa build each: the policy is built
 * once with the real opa (`app/version` returns data.settings.version), and each
 * version is that pack with another data.json and marker, re-packed and signed.
 */
import type { KeyObject } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_PATH } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { signPack } from '../../src/sign/sign.js';
import { buildFrom } from './packs.js';

const POLICY = {
  'warden.yaml': 'name: app\nentrypoints: [app/version, app/allow, app/tier]\n',
  'app.rego':
    'package app\n\nversion := data.settings.version\n\ndefault allow := false\n\nallow if input.level >= data.settings.min_level\n\n# No default: undefined below level 10.\ntier := "gold" if input.level >= 10\n',
  'data.json': JSON.stringify({ settings: { version: 0, min_level: 0 } }),
};

let base: Promise<ReadonlyMap<string, Buffer>> | undefined;

/** The built base pack's files (built once per process). */
export function baseFiles(): Promise<ReadonlyMap<string, Buffer>> {
  base ??= buildFrom(POLICY).then((b) => readPack(b.bytes));
  return base;
}

/**
 * Pack bytes for version n: data.settings.version = n, marker sequence = opts.sequence ?? n;
 * `rego` replaces app.rego (not policy.wasm: only engine: opa reads it).
 */
export async function variant(
  n: number,
  opts: { sequence?: number; name?: string; minLevel?: number; ballast?: number; rego?: string } = {},
): Promise<Buffer> {
  const files = new Map(await baseFiles());
  const manifest = JSON.parse((files.get(MANIFEST_PATH) ?? Buffer.from('{}')).toString()) as {
    revision: string;
    metadata: { warden: { sequence: number; pack: string } };
  };
  manifest.revision = `v${n}`;
  manifest.metadata.warden.sequence = opts.sequence ?? n;
  manifest.metadata.warden.pack = opts.name ?? 'app';
  files.set(MANIFEST_PATH, Buffer.from(JSON.stringify(manifest)));
  const settings = { version: n, min_level: opts.minLevel ?? 0 };
  files.set('data.json', Buffer.from(JSON.stringify({ settings, ...ballast(opts.ballast ?? 0) })));
  // Another app.rego beside the same policy.wasm: what the real OPA (engine: opa) compiles.
  if (opts.rego !== undefined) files.set('app.rego', Buffer.from(opts.rego));
  return writeTarGz([...files].map(([path, data]) => ({ path, data })));
}

// `count` directory entries (~100 bytes each) that make a pack's data large and slow to load.
function ballast(count: number): { directory?: Record<string, { role: string; name: string }> } {
  if (count === 0) return {};
  const directory: Record<string, { role: string; name: string }> = {};
  for (let i = 0; i < count; i++)
    directory[`user-${i}`] = { role: i % 3 === 0 ? 'admin' : 'viewer', name: 'n'.repeat(64) };
  return { directory };
}

/** Publishes a pack into a pack-server folder the way an operator should: signature first, both atomically. */
export async function publish(
  dir: string,
  name: string,
  pack: Buffer,
  key: KeyObject | { signature: Buffer },
): Promise<void> {
  const signature = 'signature' in key ? key.signature : Buffer.from(JSON.stringify(await signPack(pack, key)));
  const target = join(dir, `${name}.tar.gz`);
  await writeFile(`${target}.sigstore.json.tmp`, signature);
  await rename(`${target}.sigstore.json.tmp`, `${target}.sigstore.json`);
  await writeFile(`${target}.tmp`, pack);
  await rename(`${target}.tmp`, target);
}
