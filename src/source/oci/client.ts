/**
 * A small client of the OCI distribution spec over undici: manifests by tag or
 * digest (HEAD and GET, with Accept headers), blobs (digest verified, size
 * capped), the referrers API with the tag-schema fallback, and the uploads
 * `warden pack push` needs. Authentication is in auth.ts; every failure is a
 * coded WardenError. Nothing a registry sends is trusted: sizes are capped
 * while reading, and content is checked against the digest it was asked by.
 */
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { WardenError, messageOf } from '../../errors.js';
import { WARDEN_VERSION } from '../../project.js';
import { fetchTooLarge } from '../http-fetch.js';
import {
  basicAuthorization,
  parseChallenge,
  readTokenAnswer,
  TokenCache,
  tokenUrl,
  type OciCredentials,
} from './auth.js';
import { MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST } from '../../verify/oci-media-types.js';
import type { OciReference } from './reference.js';

/** How a client connects. */
export interface OciClientOptions {
  readonly ref: OciReference;
  readonly credentials: OciCredentials;
  /** Plain HTTP instead of HTTPS (a registry on 127.0.0.1 in tests). */
  readonly insecureHttp?: boolean;
  /** Extra CA certificates (PEM) trusted for the registry and its token realm. */
  readonly ca?: Buffer;
  /** Deadline of one request (headers and body). */
  readonly timeoutMs: number;
  /** Whether the token scope asks for push too. */
  readonly push?: boolean;
}

/** A content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A manifest as fetched: its digest, media type and exact bytes. */
export interface FetchedManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

/** A manifest is small; anything near this is not one. */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

interface Sent {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Dispatcher.ResponseData['body'];
}

/** `sha256:<hex>` of bytes. */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A client of one repository on one registry. */
export class OciClient {
  #opts: OciClientOptions;
  readonly #dispatcher: Agent;
  readonly #tokens = new TokenCache();
  readonly #base: string;
  #scheme: 'basic' | 'bearer' | undefined;

  constructor(opts: OciClientOptions) {
    this.#opts = opts;
    this.#dispatcher = new Agent({
      connect: opts.ca === undefined ? {} : { ca: opts.ca },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: 4_000,
    });
    this.#base = `${opts.insecureHttp === true ? 'http' : 'https'}://${opts.ref.registry}/v2/${opts.ref.repository}`;
  }

  /** Where the repository lives (for logs and errors). */
  get origin(): string {
    return this.#base;
  }

  /**
   * Uses `credentials` from the next request on (a rotated secret file): when they differ from the
   * current ones, the tokens obtained with the old ones are dropped and the scheme is learnt again.
   */
  setCredentials(credentials: OciCredentials): void {
    if (sameCredentials(credentials, this.#opts.credentials)) return;
    this.#opts = { ...this.#opts, credentials };
    this.#tokens.clear();
    this.#scheme = undefined;
  }

  /** Closes the connections kept alive. */
  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  /** HEAD of a manifest: its digest (Docker-Content-Digest) without the body; undefined when the registry sends none. */
  async headManifest(reference: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.#send('HEAD', `/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, undefined, signal);
    await res.body.dump();
    if (res.status !== 200) throw statusError(`HEAD ${this.#base}/manifests/${reference}`, res.status);
    const digest = header(res.headers, 'docker-content-digest');
    return digest !== undefined && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : undefined;
  }

  /** GET of a manifest; by digest, the bytes must hash to it; by tag, a Docker-Content-Digest sent must match them. */
  async getManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const what = `${this.#base}/manifests/${reference}`;
    const res = await this.#send('GET', `/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, undefined, signal);
    if (res.status !== 200) {
      await res.body.dump();
      throw statusError(`GET ${what}`, res.status);
    }
    const bytes = await readCapped(res, what, MANIFEST_MAX_BYTES, undefined);
    const digest = digestOf(bytes);
    const claimed = reference.startsWith('sha256:') ? reference : header(res.headers, 'docker-content-digest');
    if (claimed !== undefined && claimed !== digest)
      throw new WardenError('OCI_DIGEST_MISMATCH', `the manifest ${what} hashes to ${digest}, not ${claimed}`, {
        details: { url: what, expected: claimed, actual: digest },
      });
    const mediaType = (header(res.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { digest, mediaType, bytes };
  }

  /** GET of a blob, capped at maxBytes (maxKey names the setting), verified against its digest. */
  async getBlob(digest: string, maxBytes: number, maxKey?: string, signal?: AbortSignal): Promise<Buffer> {
    const what = `${this.#base}/blobs/${digest}`;
    const res = await this.#send('GET', `/blobs/${digest}`, {}, undefined, signal);
    if (res.status !== 200) {
      await res.body.dump();
      throw statusError(`GET ${what}`, res.status);
    }
    const bytes = await readCapped(res, what, maxBytes, maxKey);
    const actual = digestOf(bytes);
    if (actual !== digest)
      throw new WardenError('OCI_DIGEST_MISMATCH', `the blob ${what} hashes to ${actual}`, {
        details: { url: what, expected: digest, actual },
      });
    return bytes;
  }

  /**
   * The referrers of a manifest with this artifactType: the referrers API
   * (`/referrers/<digest>`), or, when the registry lacks it (404), the index
   * tagged `sha256-<hex>` (the referrers tag schema), or none.
   */
  async referrers(subject: string, artifactType: string, signal?: AbortSignal): Promise<Descriptor[]> {
    const path = `/referrers/${subject}?artifactType=${encodeURIComponent(artifactType)}`;
    const res = await this.#send('GET', path, { accept: OCI_INDEX }, undefined, signal);
    let index: Buffer;
    if (res.status === 200) {
      index = await readCapped(res, `${this.#base}${path}`, MANIFEST_MAX_BYTES, undefined);
    } else {
      await res.body.dump();
      if (res.status !== 404) throw statusError(`GET ${this.#base}${path}`, res.status);
      const tag = subject.replace(':', '-');
      try {
        index = (await this.getManifest(tag, signal)).bytes;
      } catch (err) {
        if (err instanceof WardenError && err.details?.status === 404) return [];
        throw err;
      }
    }
    return manifestsOf(index, `${this.#base}${path}`).filter((d) => d.artifactType === artifactType);
  }

  /** Uploads a blob unless the registry has it (monolithic POST + PUT); returns its descriptor. */
  async pushBlob(bytes: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = digestOf(bytes);
    const head = await this.#send('HEAD', `/blobs/${digest}`, {});
    await head.body.dump();
    if (head.status !== 200) {
      const start = await this.#send('POST', '/blobs/uploads/', { 'content-length': '0' }, Buffer.alloc(0));
      await start.body.dump();
      const location = header(start.headers, 'location');
      if (start.status !== 202 || location === undefined)
        throw statusError(`POST ${this.#base}/blobs/uploads/`, start.status);
      const url = new URL(location, `${this.#base}/`);
      url.searchParams.set('digest', digest);
      const put = await this.#send(
        'PUT',
        url.toString(),
        { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
        bytes,
      );
      await put.body.dump();
      if (put.status !== 201) throw statusError(`PUT ${this.#base}/blobs/${digest}`, put.status);
    }
    return { mediaType, digest, size: bytes.length };
  }

  /** Uploads a manifest under a tag (or its digest); returns its digest. */
  async pushManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.#send(
      'PUT',
      `/manifests/${reference}`,
      { 'content-type': mediaType, 'content-length': String(bytes.length) },
      bytes,
    );
    await res.body.dump();
    if (res.status !== 201) throw statusError(`PUT ${this.#base}/manifests/${reference}`, res.status);
    return digestOf(bytes);
  }

  /** Uploads a referrer manifest by its digest; `subjectHeader` is the registry's OCI-Subject (absent: no referrers API). */
  async pushReferrerManifest(bytes: Buffer): Promise<{ digest: string; subjectHeader: string | undefined }> {
    const digest = digestOf(bytes);
    const res = await this.#send(
      'PUT',
      `/manifests/${digest}`,
      { 'content-type': OCI_MANIFEST, 'content-length': String(bytes.length) },
      bytes,
    );
    await res.body.dump();
    if (res.status !== 201) throw statusError(`PUT ${this.#base}/manifests/${digest}`, res.status);
    return { digest, subjectHeader: header(res.headers, 'oci-subject') };
  }

  // One request with the known authorization; a 401 gets a challenge answered once, then the request again.
  async #send(
    method: Method,
    pathOrUrl: string,
    headers: Record<string, string>,
    body?: Buffer,
    signal?: AbortSignal,
  ): Promise<Sent> {
    const url = pathOrUrl.startsWith('/') ? `${this.#base}${pathOrUrl}` : pathOrUrl;
    const first = await this.#request(method, url, { ...headers, ...this.#authorization() }, body, signal);
    if (first.status !== 401 && !(first.status === 403 && this.#opts.credentials.kind === 'token')) return first;
    await first.body.dump();
    // A configured token is never exchanged: refused is refused (expired, another repository, revoked).
    if (this.#opts.credentials.kind === 'token')
      throw authError(url, `the registry refused the configured token (HTTP ${first.status})`);
    const challenge = parseChallenge(header(first.headers, 'www-authenticate'));
    if (challenge?.scheme === 'basic') {
      if (this.#opts.credentials.kind !== 'basic')
        throw authError(url, 'the registry asks for a username and password and none is configured');
      this.#scheme = 'basic';
    } else if (challenge?.scheme === 'bearer') {
      await this.#exchange(tokenUrl(challenge, this.#scope()), signal);
      this.#scheme = 'bearer';
    } else throw authError(url, 'the registry answered 401 without a Basic or Bearer challenge');
    const again = await this.#request(method, url, { ...headers, ...this.#authorization() }, body, signal);
    if (again.status === 401 || again.status === 403) {
      await again.body.dump();
      throw authError(url, `the registry refused the credentials (HTTP ${again.status})`);
    }
    return again;
  }

  // Asks the realm for a token for the scope, with the basic credentials if any.
  async #exchange(url: string, signal?: AbortSignal): Promise<void> {
    const c = this.#opts.credentials;
    const res = await this.#request(
      'GET',
      url,
      c.kind === 'basic' ? { authorization: basicAuthorization(c) } : {},
      undefined,
      signal,
    );
    if (res.status !== 200) {
      await res.body.dump();
      throw authError(url, `the token endpoint answered HTTP ${res.status}`);
    }
    const bytes = await readCapped(res, url, 64 * 1024, undefined);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw authError(url, 'the token endpoint answered with something other than JSON');
    }
    const { token, expiresIn } = readTokenAnswer(json, url);
    this.#tokens.set(this.#scope(), token, expiresIn, Date.now());
  }

  #scope(): string {
    return `repository:${this.#opts.ref.repository}:${this.#opts.push === true ? 'pull,push' : 'pull'}`;
  }

  #authorization(): Record<string, string> {
    const c = this.#opts.credentials;
    if (c.kind === 'token') return { authorization: `Bearer ${c.token}` };
    if (this.#scheme === 'basic' && c.kind === 'basic') return { authorization: basicAuthorization(c) };
    if (this.#scheme === 'bearer') {
      const token = this.#tokens.get(this.#scope(), Date.now());
      if (token !== undefined) return { authorization: `Bearer ${token}` };
    }
    return {};
  }

  // One HTTP exchange; network failures, the deadline and an abort become coded errors.
  async #request(
    method: Method,
    url: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Sent> {
    if (signal?.aborted === true) throw aborted(url);
    const deadline = AbortSignal.timeout(this.#opts.timeoutMs);
    const both = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    try {
      const res = await request(url, {
        method,
        headers: { 'user-agent': `warden/${WARDEN_VERSION}`, 'accept-encoding': 'identity', ...headers },
        ...(body === undefined ? {} : { body }),
        dispatcher: this.#dispatcher,
        signal: both,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      if (isAborted(signal)) throw aborted(url);
      if (deadline.aborted)
        throw new WardenError('FETCH_TIMEOUT', `no answer from ${url} within ${this.#opts.timeoutMs} ms`, {
          details: { url, timeout_ms: this.#opts.timeoutMs },
        });
      const code = (err as { code?: string }).code;
      throw new WardenError('FETCH_FAILED', `cannot reach ${url}: ${messageOf(err)}`, {
        cause: err,
        details: { url, system_code: code },
      });
    }
  }
}

// Reads a body up to a cap; a declared or actual size over it is FETCH_TOO_LARGE.
async function readCapped(res: Sent, what: string, max: number, key: string | undefined): Promise<Buffer> {
  const declared = Number(header(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw fetchTooLarge(what, declared, max, key, { details: { url: what, declared_bytes: declared } });
  }
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      received += b.length;
      if (received > max) {
        res.body.destroy();
        throw fetchTooLarge(what, received, max, key, {
          atLeast: true,
          details: { url: what, received_bytes: received },
        });
      }
      chunks.push(b);
    }
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('FETCH_FAILED', `${what}: the body was cut short: ${messageOf(err)}`, {
      cause: err,
      details: { url: what, received_bytes: received },
    });
  }
  return Buffer.concat(chunks, received);
}

// The descriptors of an image index.
function manifestsOf(bytes: Buffer, what: string): Descriptor[] {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new WardenError('OCI_MANIFEST_INVALID', `${what} is not JSON`, { details: { url: what } });
  }
  const manifests = (json as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests)) return [];
  return manifests.filter(
    (d): d is Descriptor =>
      typeof d === 'object' &&
      d !== null &&
      typeof (d as Descriptor).digest === 'string' &&
      /^sha256:[a-f0-9]{64}$/.test((d as Descriptor).digest),
  );
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function header(headers: Sent['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function statusError(what: string, status: number): WardenError {
  return new WardenError('FETCH_HTTP_STATUS', `${what} answered HTTP ${status}`, { details: { url: what, status } });
}

function authError(url: string, why: string): WardenError {
  return new WardenError('OCI_AUTH_FAILED', `${url}: ${why}`, { details: { url } });
}

function aborted(url: string): WardenError {
  return new WardenError('FETCH_FAILED', `request to ${url} aborted: the source is stopping`, {
    details: { url, aborted: true },
  });
}

// Equal credentials: same kind and same secrets.
function sameCredentials(a: OciCredentials, b: OciCredentials): boolean {
  if (a.kind === 'token') return b.kind === 'token' && a.token === b.token;
  if (a.kind === 'basic') return b.kind === 'basic' && a.username === b.username && a.password === b.password;
  return a.kind === b.kind;
}
