/**
 * Requests Node's HTTP parser refuses before any route sees them (headers over
 * 16 KiB, a malformed request line, a client too slow to send its headers):
 * answered like every other refusal, `{code, message, hint}` with a stable code,
 * instead of Fastify's own body without one. The connection is closed after it.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_CODES } from '../errors.js';

/** What Node reports for such a request. */
interface ClientError extends Error {
  readonly code?: string;
}

/** Answers a request the HTTP parser refused (Fastify's `clientErrorHandler`). */
export function answerClientError(err: ClientError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers are larger than 16 KiB']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'the request was not received in time']
        : [400, `the request is not well-formed HTTP (${err.code ?? 'parse error'})`];
  const body = JSON.stringify({ code: 'HTTP_REQUEST_INVALID', message, hint: ERROR_CODES.HTTP_REQUEST_INVALID.hint });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
