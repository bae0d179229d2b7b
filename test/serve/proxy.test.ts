/**
 * The serving processes' way to the primary (src/serve/proxy.ts), between real servers on
 * 127.0.0.1: bodies and headers pass both ways, the client is named in X-Forwarded-For,
 * hop-by-hop headers stay behind, and an unreachable primary is a coded 503.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { proxyTo } from '../../src/serve/proxy.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('the proxy to the primary', () => {
  let upstream: Server;
  let front: Server;
  let dead: Server;
  let frontUrl = '';
  let deadUrl = '';
  let seen: { headers: IncomingMessage['headers']; body: string; url: string | undefined } | undefined;
  const proxies: Array<{ close: () => void }> = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen = { headers: req.headers, body, url: req.url };
        res.writeHead(207, { 'x-upstream': 'yes', 'content-type': 'text/plain', 'keep-alive': 'timeout=77' });
        res.end(`echo:${body}`);
      });
    });
    const upstreamPort = await listen(upstream);
    const live = proxyTo({ host: '127.0.0.1', port: upstreamPort });
    proxies.push(live);
    front = createServer(live.handle);
    frontUrl = `http://127.0.0.1:${await listen(front)}`;
    // A port nobody listens on: a server started and closed again.
    const gone = createServer();
    const gonePort = await listen(gone);
    await close(gone);
    const unreachable = proxyTo({ host: '127.0.0.1', port: gonePort });
    proxies.push(unreachable);
    dead = createServer(unreachable.handle);
    deadUrl = `http://127.0.0.1:${await listen(dead)}`;
  });

  after(async () => {
    for (const p of proxies) p.close();
    await Promise.all([close(front), close(dead), close(upstream)]);
  });

  it('passes the request and the answer through, naming the client and dropping hop-by-hop headers', async () => {
    const res = await fetch(`${frontUrl}/v1/admin/status?x=1`, {
      method: 'POST',
      body: '{"a":12345678901234567891}',
      headers: { authorization: 'Bearer t', 'x-forwarded-for': '10.0.0.9' },
    });
    assert.equal(res.status, 207);
    assert.equal(await res.text(), 'echo:{"a":12345678901234567891}');
    assert.equal(res.headers.get('x-upstream'), 'yes');
    assert.notEqual(
      res.headers.get('keep-alive'),
      'timeout=77',
      'the upstream connection’s keep-alive is not passed on',
    );
    assert.equal(seen?.url, '/v1/admin/status?x=1');
    assert.equal(seen?.headers.authorization, 'Bearer t');
    assert.equal(seen?.headers['x-forwarded-for'], '10.0.0.9, 127.0.0.1');
  });

  it('answers 503 PRIMARY_UNAVAILABLE when the primary cannot be reached, in OPA’s shape on OPA’s routes', async () => {
    const own = await fetch(`${deadUrl}/healthz`);
    assert.equal(own.status, 503);
    const ownBody = (await own.json()) as { code: string; message: string };
    assert.equal(ownBody.code, 'PRIMARY_UNAVAILABLE');
    assert.match(ownBody.message, /primary process did not answer/);
    const opa = await fetch(`${deadUrl}/health?bundles`);
    assert.equal(opa.status, 503);
    const opaBody = (await opa.json()) as { code: string; warden_code: string };
    assert.deepEqual([opaBody.code, opaBody.warden_code], ['internal_error', 'PRIMARY_UNAVAILABLE']);
  });
});
