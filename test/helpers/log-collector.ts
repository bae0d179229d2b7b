/**
 * A decision-log collector on 127.0.0.1: a Node http server that takes uploads
 * as OPA's decision-log plugin sends them (POST, a gzipped JSON array of
 * events), gunzips and parses every body, and records it with its headers. It
 * answers 200 unless told otherwise (`answer`: another status, or `hold` to keep
 * the request unanswered), and can be stopped and started again on its port.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One upload as received. */
export interface Upload {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed body (a JSON array for a well-formed upload). */
  readonly events: Array<Record<string, unknown>>;
  /** The status answered (undefined while held). */
  status?: number;
}

/** What the collector answers to the n-th upload (from 0): a status, or hold it unanswered. */
export type Answer = (n: number, upload: Upload) => number | 'hold';

/** A running collector. */
export class LogCollector {
  readonly uploads: Upload[] = [];
  answer: Answer = () => 200;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #held: ServerResponse[] = [];
  #port = 0;

  /** Starts a collector on a free port (or `port`). */
  static async start(port = 0): Promise<LogCollector> {
    const c = new LogCollector();
    c.#port = port;
    await c.up();
    return c;
  }

  /** The service URL to configure (the upload goes to `<url>/logs`). */
  get url(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  /** Every event received, acknowledged or not, in order of arrival. */
  get events(): Array<Record<string, unknown>> {
    return this.uploads.flatMap((u) => u.events);
  }

  /** The decision ids of the acknowledged uploads (2xx), in order. */
  acknowledgedIds(): string[] {
    return this.uploads
      .filter((u) => u.status !== undefined && u.status >= 200 && u.status < 300)
      .flatMap((u) => u.events.map((e) => String(e.decision_id)));
  }

  /** Uploads held unanswered right now. */
  get held(): number {
    return this.#held.length;
  }

  /** Starts listening (again) on the collector's port. */
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let events: Array<Record<string, unknown>>;
        try {
          const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
          events = JSON.parse(text.toString('utf8')) as Array<Record<string, unknown>>;
        } catch {
          res.statusCode = 400;
          res.end('not a gzipped JSON array');
          return;
        }
        const upload: Upload = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, events };
        const n = this.uploads.length;
        this.uploads.push(upload);
        const answer = this.answer(n, upload);
        if (answer === 'hold') {
          this.#held.push(res);
          return;
        }
        upload.status = answer;
        res.statusCode = answer;
        res.end(answer < 300 ? '' : `{"code":"refused","message":"status ${answer}"}`);
      });
    });
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.#port = typeof address === 'object' && address ? address.port : this.#port;
    this.#server = server;
  }

  /** Stops listening and cuts every connection, held uploads included (as a collector that died). */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#held.length = 0;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** How many times each id occurs more than once. */
export function duplicates(ids: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return new Map([...seen].filter(([, n]) => n > 1));
}
