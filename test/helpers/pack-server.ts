/**
 * Pack-server test helpers: distinct small packs, publishing by atomic rename,
 * raw HTTP requests, and a plain static file server
 * (no ETag, no conditional requests) to stand for "any web server".
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { sha256Digest } from '../../src/verify/digest.js';

/** A small but real pack; `n` makes each one distinct. */
export function pack(n: number): Buffer {
  return writeTarGz([
    { path: '.manifest', data: Buffer.from(JSON.stringify({ revision: String(n) })) },
    { path: 'data.json', data: Buffer.from(`{"n":${n}}`) },
  ]);
}

/** Publishes the way operators are told to: a temp file in DIR, renamed over the old one. */
export async function publish(dir: string, file: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dir, `${file}.tmp-${process.hrtime.bigint()}`);
  await writeFile(tmp, bytes);
  await rename(tmp, join(dir, file));
}

/** The ETag the server must send for these bytes. */
export const etagOf = (bytes: Uint8Array): string => `"${sha256Digest(bytes)}"`;

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

/** A running static server and the requests it answered. */
export interface StaticServer {
  readonly url: string;
  readonly seen: Array<{ readonly path: string; readonly status: number }>;
  close(): Promise<void>;
}

/** Serves the files of dir at `/<file name>` on 127.0.0.1 with 200 and no ETag, ignoring If-None-Match (a plain web server). */
export async function startStaticServer(dir: string): Promise<StaticServer> {
  const seen: Array<{ path: string; status: number }> = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    const name = path.slice(1);
    const answer = (status: number, body: Buffer | string): void => {
      seen.push({ path, status });
      res.writeHead(status, { 'content-length': Buffer.byteLength(body) }).end(body);
    };
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return answer(404, 'not found');
    readFile(join(dir, name)).then(
      (bytes) => answer(200, bytes),
      () => answer(404, 'not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
