/**
 * One webhook POST with node:http(s): a total deadline, no redirects followed,
 * the answer's body read and discarded. Returns the outcome as data (never
 * throws), so the retry loop decides what a failure means.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { messageOf } from '../errors.js';
import { WARDEN_VERSION } from '../project.js';

/** One attempt. */
export interface PostOptions {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** Deadline from connect to the answer's headers. */
  readonly timeoutMs: number;
  /** Aborting ends the attempt at once as a failure. */
  readonly signal?: AbortSignal;
}

/** What an attempt came to: a 2xx answer, or why not. */
export type PostOutcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly status?: number; readonly error: string };

/** POSTs `body` to `url`; 2xx is `ok`, anything else (status, network error, timeout, abort) is not. */
export function postWebhook(opts: PostOptions): Promise<PostOutcome> {
  return new Promise((resolve) => {
    let done = false;
    let req: ClientRequest | undefined;
    const settle = (outcome: PostOutcome): void => {
      if (done) return;
      done = true;
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const fail = (error: string): void => {
      settle({ ok: false, error });
      req?.destroy();
    };
    const onAbort = (): void => fail('aborted: the dispatcher is stopping');
    if (opts.signal?.aborted === true) {
      onAbort();
      return;
    }

    // The timer also cuts a receiver that sends its headers and then drips a body forever.
    const timer = setTimeout(() => fail(`no answer within ${opts.timeoutMs} ms`), opts.timeoutMs);
    const headers = {
      ...opts.headers,
      'user-agent': `warden/${WARDEN_VERSION}`,
      'content-length': String(opts.body.length),
    };
    // A fresh connection per attempt: a keep-alive socket the receiver already closed never turns into a spurious failure.
    const send = opts.url.protocol === 'https:' ? httpsRequest : httpRequest;
    try {
      req = send(opts.url, { method: 'POST', headers, agent: false });
    } catch (err) {
      clearTimeout(timer);
      fail(messageOf(err));
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === undefined ? err.message : `${err.code}: ${err.message}`),
    );
    req.on('close', () => clearTimeout(timer));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.on('error', () => undefined); // a body cut short does not change the verdict
      res.resume();
      if (status >= 200 && status < 300) settle({ ok: true, status });
      else settle({ ok: false, status, error: `HTTP ${status}` });
    });
    req.end(opts.body);
  });
}
