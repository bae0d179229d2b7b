/**
 * Pack-server test helpers: distinct small packs, publishing by atomic rename,
 * waiting for a condition, and raw HTTP requests.
 */
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { sha256Digest } from '../../src/verify/digest.js';

/** A small but real pack; `n` makes each one distinct. */
export function pack(n: number): Buffer {
  return writeTarGz([{ path: '.manifest', data: Buffer.from(JSON.stringify({ revision: String(n) })) }, { path: 'data.json', data: Buffer.from(`{"n":${n}}`) }]);
}

/** Publishes the way operators are told to: a temp file in DIR, renamed over the old one. */
export async function publish(dir: string, file: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dir, `${file}.tmp-${process.hrtime.bigint()}`);
  await writeFile(tmp, bytes);
  await rename(tmp, join(dir, file));
}

/** The ETag the server must send for these bytes. */
export const etagOf = (bytes: Uint8Array): string => `"${sha256Digest(bytes)}"`;

/** Polls until check() is true or ms pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail('condition not met in time');
    await sleep(25);
  }
}

/** A GET with the path sent byte for byte (fetch would normalise dot segments away); resolves the status. */
export function rawGet(base: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
