/**
 * A real MinIO server (the pinned build in .tools/bin/minio, installed by
 * `node scripts/install-tools.mjs minio`) on 127.0.0.1: a temp data folder, a free
 * port, root credentials of its own, a bucket made and objects uploaded with the
 * AWS SDK, as an operator publishing packs to S3 would. MinIO verifies the SigV4
 * signature of every request, so wrong keys are refused by the server itself.
 * It can be stopped (or killed) and started again on the same port and data.
 * With `tls` (test/helpers/pki.ts) it serves HTTPS (`--certs-dir` holding
 * public.crt and private.key), and its own client trusts the CA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { tempDir } from './fs.js';
import { freePort } from './opa-server.js';
import type { Pki } from './pki.js';
import { probeStatus } from './probe.js';
import { eventually } from './wait.js';

const pinned = fileURLToPath(new URL('../../.tools/bin/minio', import.meta.url));

/** The MinIO binary: $WARDEN_MINIO, else the pinned one; fails with how to install it. */
export function minioPath(): string {
  const path = process.env.WARDEN_MINIO ?? pinned;
  if (!existsSync(path))
    throw new Error(
      `TOOL_MISSING: MinIO is not installed at ${path}; run \`node scripts/install-tools.mjs minio\` (or node scripts/bootstrap.mjs --test)`,
    );
  return path;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** A MinIO server and an SDK client with its root credentials. */
export class MinioServer {
  readonly endpoint: string;
  readonly accessKeyId = `warden${randomBytes(4).toString('hex')}`;
  readonly secretAccessKey = randomBytes(18).toString('base64url');
  readonly region = 'us-east-1';
  readonly client: S3Client;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly tls: { readonly certsDir: string; readonly ca: Buffer } | undefined,
  ) {
    this.endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.client = new S3Client({
      endpoint: this.endpoint,
      region: this.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
      ...(tls ? { requestHandler: { httpsAgent: new HttpsAgent({ ca: tls.ca }) } } : {}),
    });
  }

  /** Starts MinIO on a free port with a fresh data folder (HTTPS with the PKI's server certificate) and waits until it is ready. */
  static async start(opts: { tls?: Pki } = {}): Promise<MinioServer> {
    let tls: { certsDir: string; ca: Buffer } | undefined;
    if (opts.tls) {
      const certsDir = tempDir('warden-minio-certs-');
      await copyFile(opts.tls.path('server.pem'), join(certsDir, 'public.crt'));
      await copyFile(opts.tls.path('server.key'), join(certsDir, 'private.key'));
      tls = { certsDir, ca: opts.tls.ca };
    }
    const server = new MinioServer(await freePort(), tempDir('warden-minio-'), tls);
    await server.restart();
    return server;
  }

  /** Starts (again) on the same port and data folder; waits for /minio/health/ready. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('MinIO is already running');
    this.#stderr = '';
    const child = spawn(
      minioPath(),
      [
        'server',
        this.dataDir,
        '--address',
        `127.0.0.1:${this.port}`,
        '--console-address',
        '127.0.0.1:0',
        '--quiet',
        ...(this.tls ? ['--certs-dir', this.tls.certsDir] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          MINIO_ROOT_USER: this.accessKeyId,
          MINIO_ROOT_PASSWORD: this.secretAccessKey,
          MINIO_BROWSER: 'off',
          MINIO_UPDATE: 'off',
        },
      },
    );
    live.add(child);
    this.#child = child;
    child.stdout?.on('data', (c: Buffer) => (this.#stderr += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (this.#stderr += c.toString('utf8')));
    this.#exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        live.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      }),
    );
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`minio exited: ${this.#stderr}`);
          return (await probeStatus(`${this.endpoint}/minio/health/ready`, this.tls?.ca)) === 200;
        },
        { what: 'MinIO answering /minio/health/ready', timeoutMs: 60_000, everyMs: 50 },
      );
    } catch (err) {
      await this.stop('SIGKILL');
      throw err;
    }
  }

  /** Stops the server (SIGTERM, or SIGKILL) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child !== undefined && child.exitCode === null) child.kill(signal);
    await this.#exited;
  }

  /** Creates a bucket. */
  async createBucket(bucket: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
  }

  /** Uploads one object; resolves with its ETag. */
  async put(bucket: string, key: string, body: Uint8Array | string): Promise<string> {
    const out = await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return out.ETag ?? '';
  }

  /** Deletes one object. */
  async delete(bucket: string, key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /** Publishes a pack the way operators should: the signature object first, then the pack. */
  async publish(bucket: string, key: string, pack: Uint8Array, signature: Uint8Array | string): Promise<void> {
    await this.put(bucket, `${key}.sigstore.json`, signature);
    await this.put(bucket, key, pack);
  }

  /** Writes the root keys into files in dir (access_key_id, secret_access_key), as a mounted Secret; returns their paths. */
  async credentialFiles(dir: string): Promise<{ accessKeyIdFile: string; secretAccessKeyFile: string }> {
    const accessKeyIdFile = join(dir, 'access_key_id');
    const secretAccessKeyFile = join(dir, 'secret_access_key');
    await writeFile(accessKeyIdFile, `${this.accessKeyId}\n`);
    await writeFile(secretAccessKeyFile, `${this.secretAccessKey}\n`);
    return { accessKeyIdFile, secretAccessKeyFile };
  }

  /** Stops the server and the client (for `after` hooks). */
  async close(): Promise<void> {
    this.client.destroy();
    await this.stop('SIGKILL');
  }
}
