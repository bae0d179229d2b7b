/**
 * gzip on the agent's API, as OPA's server does it: a request body sent with
 * `Content-Encoding: gzip` is inflated before it is parsed (its inflated size
 * counts against limits.max_body_bytes, so a small bomb is still refused with
 * 413), and an answer of at least MIN_GZIP_BYTES goes out gzipped when the
 * client accepts it. Both run on zlib's thread pool, never on the event loop.
 */
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../errors.js';

/** Answers shorter than this are sent as they are (OPA's default server.encoding.gzip.min_length). */
export const MIN_GZIP_BYTES = 1024;

const gzipAsync = promisify(gzip);

/** Adds request inflation and response compression to app. */
export function registerCompression(app: FastifyInstance): void {
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const encoding = request.headers['content-encoding']?.toLowerCase().trim();
    if (encoding === undefined || encoding === 'identity') {
      done(null, payload);
      return;
    }
    if (encoding !== 'gzip') {
      done(
        new WardenError('DECISION_INPUT_INVALID', `Content-Encoding ${encoding} is not supported; send gzip or none`),
        undefined,
      );
      return;
    }
    const inflated = payload.pipe(createGunzip());
    inflated.on('error', () => undefined); // Fastify reports the stream's error as the request's.
    // Fastify counts the received bytes on this property to compare them with the Content-Length.
    Object.assign(inflated, { receivedEncodedLength: 0 });
    payload.on('data', (chunk: Buffer) => {
      (inflated as unknown as { receivedEncodedLength: number }).receivedEncodedLength += chunk.length;
    });
    done(null, inflated);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (size < MIN_GZIP_BYTES || !acceptsGzip(request.headers['accept-encoding'])) return payload;
    if (reply.hasHeader('content-encoding')) return payload;
    void reply.header('content-encoding', 'gzip').header('vary', 'Accept-Encoding').removeHeader('content-length');
    return gzipAsync(payload);
  });
}

// True when the Accept-Encoding header lists gzip (or *) without q=0.
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name !== 'gzip' && name !== '*') return false;
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
  });
}
