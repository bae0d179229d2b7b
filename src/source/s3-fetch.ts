/**
 * One GET of an object from an S3-compatible store, through the official AWS SDK
 * (`@aws-sdk/client-s3`): the SDK signs every request with AWS Signature V4 and
 * this module never touches the signature. What it adds is what the http source
 * guarantees too: a total deadline, a byte limit enforced while the body streams
 * (the declared size is checked first, then the bytes actually received), abort
 * on stop, and a coded WardenError for every failure.
 *
 * A conditional GET (`If-None-Match`) that matches is answered 304; the SDK
 * surfaces it as an error whose `$metadata.httpStatusCode` is 304, turned here
 * into `{ status: 304 }`. The SDK is imported on first use, so agents without an
 * s3 source never load it.
 */
import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { WardenError, messageOf } from '../errors.js';
import { fetchTooLarge, type FetchResult } from './http-fetch.js';

/** Credentials read from files at every request (a rotated Secret is picked up); absent: the SDK's default chain. */
export interface S3CredentialFiles {
  readonly accessKeyIdFile: string;
  readonly secretAccessKeyFile: string;
  readonly sessionTokenFile?: string;
}

/** Where the store is and how to reach it. */
export interface S3ClientSettings {
  /** Default: AWS S3's endpoint for the region. */
  readonly endpoint?: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly credentials?: S3CredentialFiles;
  /** PEM trusted for an https endpoint. */
  readonly ca?: Buffer;
}

/** One object request. */
export interface S3GetOptions {
  readonly bucket: string;
  readonly key: string;
  /** Sent as `If-None-Match` (one entity tag, as S3 takes it); none: an unconditional GET. */
  readonly ifNoneMatch?: string;
  /** Deadline for connect + headers + body. */
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** The setting maxBytes comes from, named when an object is over it. */
  readonly maxBytesKey?: string;
  /** Aborting fails the request with FETCH_FAILED and `details.aborted`. */
  readonly signal?: AbortSignal;
}

/** What `s3://bucket/key` looks like in logs, details and `origin`. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** A client for one source: the SDK's own retries are off (the source backs off itself). */
export async function createS3Client(settings: S3ClientSettings): Promise<S3Client> {
  const { S3Client: Client } = await import('@aws-sdk/client-s3');
  const files = settings.credentials;
  return new Client({
    region: settings.region,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    forcePathStyle: settings.forcePathStyle,
    maxAttempts: 1,
    // `memoized`: the SDK calls the provider for every request instead of caching its first answer forever.
    ...(files === undefined
      ? {}
      : { credentials: Object.assign(() => readCredentialFiles(files), { memoized: true }) }),
    // A private CA for an https endpoint; plain keep-alive otherwise.
    ...(settings.ca === undefined
      ? {}
      : { requestHandler: { httpsAgent: new HttpsAgent({ ca: settings.ca, keepAlive: true }) } }),
  });
}

/** GET of one object: 200 with the body (at most maxBytes), or 304 when `ifNoneMatch` matched; anything else throws a coded error. */
export async function getObject(client: S3Client, opts: S3GetOptions): Promise<FetchResult> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const url = s3Url(opts.bucket, opts.key);
  if (opts.signal?.aborted === true) throw aborted(url);
  const deadline = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.abort();
  }, opts.timeoutMs);
  let stopped = false;
  const onAbort = (): void => {
    stopped = true;
    deadline.abort();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let out: GetObjectCommandOutput;
    try {
      out = await client.send(
        new GetObjectCommand({
          Bucket: opts.bucket,
          Key: opts.key,
          ...(opts.ifNoneMatch === undefined ? {} : { IfNoneMatch: opts.ifNoneMatch }),
        }),
        { abortSignal: deadline.signal },
      );
    } catch (err) {
      if (statusOf(err) === 304) return { status: 304 };
      throw err;
    }
    const body = out.Body as Readable | undefined;
    const etag = out.ETag;
    const bytes = await readCapped(body, out.ContentLength, opts, url, deadline.signal);
    return etag === undefined ? { status: 200, body: bytes } : { status: 200, body: bytes, etag };
  } catch (err) {
    if (err instanceof WardenError) throw err;
    if (timedOut)
      throw new WardenError('FETCH_TIMEOUT', `no complete answer for ${url} within ${opts.timeoutMs} ms`, {
        cause: err,
        details: { url, timeout_ms: opts.timeoutMs },
      });
    if (stopped) throw aborted(url);
    throw s3Error(err, url);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

// Reads the body up to the limit; the declared length is checked before any byte is read.
async function readCapped(
  body: Readable | undefined,
  declared: number | undefined,
  opts: S3GetOptions,
  url: string,
  signal: AbortSignal,
): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (declared !== undefined && declared > opts.maxBytes) {
    body.destroy();
    throw tooLarge(url, opts, { declared_bytes: declared });
  }
  const onAbort = (): void => void body.destroy(new Error('aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > opts.maxBytes) {
        body.destroy();
        throw tooLarge(url, opts, { received_bytes: received });
      }
      chunks.push(chunk);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (declared !== undefined && received !== declared)
    throw new WardenError('FETCH_FAILED', `${url}: the body ended after ${received} of ${declared} bytes`, {
      details: { url, received_bytes: received, declared_bytes: declared },
    });
  return Buffer.concat(chunks, received);
}

// The S3 error names that mean "these credentials (or their signature) are not accepted".
const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
]);

/** A coded error for whatever the SDK threw: denied credentials, an HTTP status, missing credentials, or the network. */
export function s3Error(err: unknown, url: string): WardenError {
  const status = statusOf(err);
  const name = err instanceof Error ? err.name : undefined;
  const s3 = { url, ...(name === undefined ? {} : { s3_code: name }), ...(status === undefined ? {} : { status }) };
  if (name === 'CredentialsProviderError' || (status === undefined && /credential/i.test(messageOf(err))))
    return new WardenError('FETCH_CREDENTIALS_UNAVAILABLE', `no credentials to sign ${url}: ${messageOf(err)}`, {
      cause: err,
      details: s3,
    });
  if (status === 401 || status === 403 || (name !== undefined && DENIED.has(name)))
    return new WardenError('FETCH_ACCESS_DENIED', `${url}: the store refused the request (${name ?? status})`, {
      cause: err,
      details: s3,
    });
  if (status !== undefined)
    return new WardenError('FETCH_HTTP_STATUS', `${url} answered HTTP ${status} (${name ?? 'unknown'})`, {
      cause: err,
      details: s3,
    });
  const system = (err as NodeJS.ErrnoException | undefined)?.code;
  return new WardenError('FETCH_FAILED', `cannot fetch ${url}: ${messageOf(err)}`, {
    cause: err,
    details: { ...s3, ...(system === undefined ? {} : { system_code: system }) },
  });
}

// The HTTP status the SDK saw, when it got an answer.
function statusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

// The keys from their files (trailing newline trimmed); a missing or empty file is FETCH_CREDENTIALS_UNAVAILABLE.
async function readCredentialFiles(
  files: S3CredentialFiles,
): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> {
  const read = async (path: string): Promise<string> => {
    let text: string;
    try {
      text = (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new WardenError(
        'FETCH_CREDENTIALS_UNAVAILABLE',
        `cannot read the credentials file ${path}: ${messageOf(err)}`,
        {
          cause: err,
          details: { path },
        },
      );
    }
    if (text === '')
      throw new WardenError('FETCH_CREDENTIALS_UNAVAILABLE', `the credentials file ${path} is empty`, {
        details: { path },
      });
    return text;
  };
  const accessKeyId = await read(files.accessKeyIdFile);
  const secretAccessKey = await read(files.secretAccessKeyFile);
  if (files.sessionTokenFile === undefined) return { accessKeyId, secretAccessKey };
  return { accessKeyId, secretAccessKey, sessionToken: await read(files.sessionTokenFile) };
}

function tooLarge(url: string, opts: S3GetOptions, extra: { declared_bytes: number } | { received_bytes: number }) {
  const declared = 'declared_bytes' in extra;
  const actual = declared ? extra.declared_bytes : extra.received_bytes;
  return fetchTooLarge(`${url}: the object`, actual, opts.maxBytes, opts.maxBytesKey, {
    atLeast: !declared,
    details: { url, limit_bytes: opts.maxBytes, ...extra },
  });
}

function aborted(url: string): WardenError {
  return new WardenError('FETCH_FAILED', `fetch of ${url} aborted: the source is stopping`, {
    details: { url, aborted: true },
  });
}
