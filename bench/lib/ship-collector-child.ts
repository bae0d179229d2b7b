/**
 * A decision-log collector in its own process, for the shipping benchmark: a
 * Node http server on 127.0.0.1 taking OPA's decision-log uploads (POST, a
 * gzipped JSON array of events), gunzipping and parsing every body, answering
 * 204. For each event whose `input.t` is a wall-clock time in ms
 * (performance.timeOrigin + performance.now() of the sender) it records the
 * time from then to its acknowledgement. Driven over IPC (fork):
 * - sends `{ type: 'ready', url }` once listening;
 * - sends `{ type: 'acked', total }` after every acknowledged upload;
 * - answers `{ type: 'report' }` with `{ type: 'report', total, uploads, latenciesMs }`
 *   and starts a new tally.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzip);
const now = (): number => performance.timeOrigin + performance.now();

let total = 0;
let uploads = 0;
let latenciesMs: number[] = [];
let bad = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      let events: Array<{ input?: { t?: unknown } }>;
      try {
        const raw = Buffer.concat(chunks);
        const text = req.headers['content-encoding'] === 'gzip' ? await gunzipAsync(raw) : raw;
        events = JSON.parse(text.toString('utf8')) as typeof events;
        if (!Array.isArray(events)) throw new Error('not an array');
      } catch {
        bad++;
        res.writeHead(400).end('not a gzipped JSON array');
        return;
      }
      res.writeHead(204).end();
      const at = now();
      for (const e of events) if (typeof e.input?.t === 'number') latenciesMs.push(at - e.input.t);
      total += events.length;
      uploads++;
      process.send?.({ type: 'acked', total });
    })();
  });
});

process.on('message', (m: { type?: string }) => {
  if (m.type === 'report') {
    process.send?.({ type: 'report', total, uploads, bad, latenciesMs });
    total = 0;
    uploads = 0;
    bad = 0;
    latenciesMs = [];
  }
});
process.on('disconnect', () => server.close(() => process.exit(0)));

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}/v1` });
});
