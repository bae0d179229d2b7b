/**
 * `GET /v1/admin/events`: Warden's events as Server-Sent Events. A client that
 * reconnects with `Last-Event-ID` (or `?last_event_id=`) first gets what it
 * missed from the event log, then live events, each exactly once and in id
 * order. When the log no longer holds what it missed (or the id is from
 * another log), an `event: gap` message comes first so it knows to resync.
 * Authentication is the admin scope's preHandler; this module only streams.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WardenError } from '../errors.js';
import type { EventLog } from '../notify/event-log.js';
import type { WardenEvent } from '../notify/events.js';

/** The stream's path. */
export const EVENTS_PATH = '/v1/admin/events';
/** Unsent bytes a slow client may pile up before it is cut off (it reconnects and replays). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Options of the event stream. */
export interface EventStreamOptions {
  /** Seconds between `: ping` comments that keep proxies from closing an idle stream (default 15). */
  readonly heartbeatSeconds?: number;
}

/** What an `event: gap` message carries. */
export interface GapMessage {
  /** `expired`: the events after `requested` were compacted away; `reset`: the id is beyond anything this log issued. */
  readonly reason: 'expired' | 'reset';
  readonly requested: number;
  /** Oldest id the log still holds (replay starts here). */
  readonly oldest: number;
  readonly last: number;
  readonly message: string;
}

/** Registers the SSE route on `app` (the admin scope, whose hooks authenticate). */
export function registerEventStream(app: FastifyInstance, log: EventLog, opts: EventStreamOptions = {}): void {
  const heartbeatMs = Math.max(10, (opts.heartbeatSeconds ?? 15) * 1000);
  const open = new Set<ServerResponse>();
  // Hijacked responses would hold app.close() forever; end them before the server closes.
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    done();
  });
  app.get(EVENTS_PATH, (request, reply) => {
    const from = requestedId(request);
    reply.hijack();
    const res = reply.raw;
    // Headers hooks set on the reply (CORS, request id) are kept; hijacking would drop them.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    open.add(res);
    let sent = from ?? log.lastId();
    // Writes one frame; a client that cannot keep up is dropped rather than buffered without bound.
    const write = (frame: string): void => {
      if (res.writableEnded || res.destroyed) return;
      res.write(frame);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
    };
    const sendEvent = (e: WardenEvent): void => {
      if (e.id <= sent) return;
      sent = e.id;
      write(frame(e));
    };
    // Subscribe before replaying; the id check drops anything the replay already sent.
    const unsubscribe = log.onAppend(sendEvent);
    const heartbeat = setInterval(() => write(': ping\n\n'), heartbeatMs);
    heartbeat.unref();
    const cleanup = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(res);
    };
    res.on('close', cleanup);
    res.on('error', cleanup);
    // A client gone before we subscribed emits no further 'close'.
    if (res.destroyed || request.raw.socket.destroyed) return cleanup();
    if (from === undefined) {
      // A bare id sets the client's Last-Event-ID without dispatching, so its first reconnect resumes here.
      write(`id: ${sent}\n\n`);
    } else {
      const gap = gapOf(log, from);
      if (gap !== undefined) {
        write(`event: gap\ndata: ${JSON.stringify(gap)}\n\n`);
        sent = gap.oldest - 1;
      }
      for (const e of log.since(sent)) sendEvent(e);
    }
  });
}

/** One SSE frame for an event (JSON has no raw newlines, so one `data:` line suffices). */
export function frame(e: WardenEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

// The id the client last saw: the Last-Event-ID header, else ?last_event_id=, else undefined.
function requestedId(request: FastifyRequest): number | undefined {
  const query = (request.query as Record<string, unknown> | undefined)?.last_event_id;
  const text = firstValue(request.headers['last-event-id']) ?? firstValue(query);
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text))
    throw new WardenError(
      'EVENT_ID_INVALID',
      `Last-Event-ID ${JSON.stringify(text.slice(0, 40))} is not a non-negative integer`,
    );
  return Number(text);
}

// A header or query value (the first if repeated), trimmed; undefined when absent or blank.
function firstValue(v: unknown): string | undefined {
  const one: unknown = Array.isArray(v) ? (v as unknown[])[0] : v;
  return typeof one === 'string' && one.trim() !== '' ? one.trim() : undefined;
}

// The gap message when events after `from` are lost (compacted) or `from` is from another log; else undefined.
function gapOf(log: EventLog, from: number): GapMessage | undefined {
  const oldest = log.firstId();
  const last = log.lastId();
  if (from > last) {
    return {
      reason: 'reset',
      requested: from,
      oldest,
      last,
      message: `event ${from} is newer than anything this log issued (last ${last}); resync and replay from ${oldest}`,
    };
  }
  if (from + 1 < oldest) {
    return {
      reason: 'expired',
      requested: from,
      oldest,
      last,
      message: `events ${from + 1}..${oldest - 1} are no longer held; resync, then events from ${oldest} follow`,
    };
  }
  return undefined;
}
