/**
 * One upload to a decision-log collector, as OPA's decision-log plugin makes it:
 * `POST <service url><resource>` with the gzipped JSON array as the body,
 * `Content-Type: application/json`, `Content-Encoding: gzip`, and the service's
 * bearer token (`Authorization: Bearer …`) when one is configured. The answer's
 * status is the result: 2xx acknowledges the batch. A network failure or a
 * timeout throws DECISION_LOG_SHIP_FAILED. Uses node:http so the deadline and
 * the TLS trust are under exact control, with a keep-alive agent per shipper.
 */
import { Agent as HttpAgent, request as httpRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { WardenError, messageOf } from '../errors.js';
import { WARDEN_VERSION } from '../project.js';

/** Where and how batches are posted. */
export interface UploadTarget {
  /** The service URL with the resource appended: `http://collector/v1/logs`. */
  readonly url: URL;
  /** Extra headers on every upload. */
  readonly headers: Readonly<Record<string, string>>;
  /** A file holding the bearer token, read for every upload (a rotated Secret is picked up). */
  readonly tokenFile?: string;
  /** A CA bundle (PEM) to trust for https, in place of the system's. */
  readonly caFile?: string;
  readonly timeoutMs: number;
}

/** What the collector answered: the status and the start of the body (for logs). */
export interface UploadAnswer {
  readonly status: number;
  readonly body: string;
}

/** Longest answer body kept for logs. */
const ANSWER_KEEP = 512;

/** Posts batches to one collector, reusing connections. */
export class Uploader {
  readonly #agent: HttpAgent;
  #ca: Buffer | undefined;

  constructor(readonly target: UploadTarget) {
    this.#agent =
      target.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /** Posts one gzipped body; the answer, or DECISION_LOG_SHIP_FAILED on a network failure or timeout. */
  async post(gzipped: Buffer, signal: AbortSignal): Promise<UploadAnswer> {
    const { url, timeoutMs } = this.target;
    const headers: Record<string, string> = {
      ...this.target.headers,
      'user-agent': `warden/${WARDEN_VERSION}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'content-length': String(gzipped.length),
    };
    try {
      const token = await this.#token();
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (this.target.caFile !== undefined) this.#ca ??= await readFile(this.target.caFile);
    } catch (err) {
      throw new WardenError('DECISION_LOG_SHIP_FAILED', `cannot read the collector's credentials: ${messageOf(err)}`, {
        cause: err,
      });
    }
    const opts: RequestOptions & { ca?: Buffer } = {
      method: 'POST',
      headers,
      agent: this.#agent,
      signal,
      ...(this.#ca === undefined ? {} : { ca: this.#ca }),
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<UploadAnswer>((resolve, reject) => {
      const fail = (why: string, cause?: unknown): void =>
        reject(
          new WardenError('DECISION_LOG_SHIP_FAILED', `upload to ${url.origin}${url.pathname} failed: ${why}`, {
            cause,
            details: { url: `${url.origin}${url.pathname}` },
          }),
        );
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < ANSWER_KEEP) {
            chunks.push(c);
            kept += c.length;
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8').slice(0, ANSWER_KEEP),
          });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          fail(messageOf(err), err);
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        fail(messageOf(err), err);
      });
      req.end(gzipped);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.#agent.destroy();
  }

  async #token(): Promise<string | undefined> {
    if (this.target.tokenFile === undefined) return undefined;
    const token = (await readFile(this.target.tokenFile, 'utf8')).trim();
    if (token === '' || /[\r\n]/.test(token)) throw new Error(`${this.target.tokenFile} holds no single-line token`);
    return token;
  }
}

/** The upload URL: the service URL with the resource appended, as OPA joins them. */
export function uploadUrl(serviceUrl: string, resource: string): URL {
  return new URL(`${serviceUrl.replace(/\/+$/, '')}/${resource.replace(/^\/+/, '')}`);
}
