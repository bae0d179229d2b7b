import assert from 'node:assert/strict';
import { mkdirSync, truncateSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isWardenError } from '../../src/errors.js';
import { MAX_SERVED_BYTES } from '../../src/pack-server/pack-index.js';
import { startPackServer, type PackServer } from '../../src/pack-server/pack-server.js';
import { signPack } from '../../src/sign/sign.js';
import { tempDir } from '../helpers/fs.js';
import { etagOf, pack, publish, rawGet } from '../helpers/pack-server.js';
import { eventually } from '../helpers/wait.js';
import { p256 } from '../helpers/packs.js';

describe('pack server', () => {
  const root = tempDir('warden-serve-');
  const dir = join(root, 'packs');
  const logs: Array<Record<string, unknown>> = [];
  const first = pack(1);
  let server: PackServer;
  let packs: string;

  before(async () => {
    mkdirSync(dir);
    await writeFile(join(dir, 'governance.tar.gz'), first);
    await writeFile(
      join(dir, 'governance.tar.gz.sigstore.json'),
      JSON.stringify(await signPack(first, p256().privateKey)),
    );
    await writeFile(join(root, 'secret.tar.gz'), 'outside DIR');
    mkdirSync(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'inner.tar.gz'), 'in a subfolder');
    server = await startPackServer({
      dir,
      host: '127.0.0.1',
      port: 0,
      maxWaitSeconds: 5,
      log: (obj) => logs.push({ ...obj }),
    });
    packs = `${server.url}/v1/policy/packs`;
  });
  after(() => server.close());

  it('serves a pack with its quoted sha256 digest as ETag', async () => {
    const res = await fetch(`${packs}/governance`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), etagOf(first));
    assert.match(res.headers.get('etag') ?? '', /^"sha256:[0-9a-f]{64}"$/);
    assert.equal(res.headers.get('content-type'), 'application/gzip');
    assert.equal(res.headers.get('content-length'), String(first.length));
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), first);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const res = await fetch(`${packs}/governance`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), etagOf(first));
    assert.equal(res.headers.get('content-length'), String(first.length));
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('answers 304 with the ETag when If-None-Match is the current ETag, 200 for another', async () => {
    const same = await fetch(`${packs}/governance`, { headers: { 'If-None-Match': etagOf(first) } });
    assert.equal(same.status, 304);
    assert.equal(same.headers.get('etag'), etagOf(first));
    assert.equal((await same.arrayBuffer()).byteLength, 0);
    const stale = await fetch(`${packs}/governance`, { headers: { 'If-None-Match': etagOf(Buffer.from('old')) } });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();
  });

  it('answers 304 to an If-None-Match list naming the current ETag (weak or strong) or to *, with that ETag, and logs the list', async () => {
    const other = etagOf(Buffer.from('refused elsewhere'));
    for (const header of [`${other}, ${etagOf(first)}`, `${etagOf(first)},${other}`, `W/${etagOf(first)}`, '*']) {
      const res = await fetch(`${packs}/governance`, { headers: { 'If-None-Match': header } });
      assert.equal(res.status, 304, header);
      assert.equal(res.headers.get('etag'), etagOf(first), header);
      await res.arrayBuffer();
    }
    const miss = await fetch(`${packs}/governance`, { headers: { 'If-None-Match': `${other}, "sha256:x,y"` } });
    assert.equal(miss.status, 200);
    await miss.arrayBuffer();
    await eventually(() => logs.some((l) => l.if_none_match === `${other}, "sha256:x,y"` && l.status === 200));
  });

  it('serves the signature bundle at NAME.sigstore.json with its own ETag', async () => {
    const res = await fetch(`${packs}/governance.sigstore.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.headers.get('etag'), etagOf(body));
    assert.notEqual(res.headers.get('etag'), etagOf(first));
    assert.match(body.toString(), /messageSignature/);
  });

  it('also accepts the file names themselves as URL names', async () => {
    const byFile = await fetch(`${packs}/governance.tar.gz`);
    assert.equal(byFile.headers.get('etag'), etagOf(first));
    await byFile.arrayBuffer();
    const sig = await fetch(`${packs}/governance.tar.gz.sigstore.json`);
    assert.equal(sig.status, 200);
    await sig.arrayBuffer();
  });

  it('answers 404 PACK_NOT_FOUND for an unknown pack or a missing signature', async () => {
    await publish(dir, 'unsigned.tar.gz', pack(2));
    await eventually(async () => (await fetch(`${packs}/unsigned`, { method: 'HEAD' })).status === 200);
    for (const name of ['nope', 'nope.sigstore.json', 'unsigned.sigstore.json']) {
      const res = await fetch(`${packs}/${name}`);
      assert.equal(res.status, 404, name);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, 'PACK_NOT_FOUND');
      assert.match(body.message, new RegExp(name));
    }
  });

  it('never serves files outside DIR or in its subfolders, however the path is encoded', async () => {
    const attempts = [
      '/v1/policy/packs/..%2Fsecret',
      '/v1/policy/packs/..%2fsecret.tar.gz',
      '/v1/policy/packs/%2E%2E%2Fsecret',
      '/v1/policy/packs/../secret',
      '/v1/policy/packs/..',
      '/v1/policy/packs/.',
      '/v1/policy/packs/',
      '/v1/policy/packs/sub%2Finner',
      '/v1/policy/packs/sub/inner',
      '/v1/policy/packs/governance%00',
      '/v1/policy/packs/%E0%A4%A',
      '/v1/policy/secret',
      '/governance',
    ];
    for (const path of attempts) assert.equal(await rawGet(server.url, path), 404, path);
  });

  it('answers 405 with Allow for other methods and keeps serving', async () => {
    const res = await fetch(`${packs}/governance`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await res.json()) as { code: string }).code, 'USAGE');
    assert.equal((await fetch(`${packs}/governance`, { method: 'HEAD' })).status, 200);
  });

  it('notices an atomic replace within a couple of seconds and serves the new bytes', async () => {
    const next = pack(3);
    await publish(dir, 'replaced.tar.gz', pack(30));
    await eventually(async () => (await fetch(`${packs}/replaced`, { method: 'HEAD' })).status === 200);
    await publish(dir, 'replaced.tar.gz', next);
    await eventually(
      async () => (await fetch(`${packs}/replaced`, { method: 'HEAD' })).headers.get('etag') === etagOf(next),
      { timeoutMs: 2500 },
    );
    const res = await fetch(`${packs}/replaced`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), next);
  });

  it('skips temp files and files over the default pack limit (256 MiB), logging the oversized one', async () => {
    await writeFile(join(dir, 'draft.tar.gz.tmp'), pack(4));
    const huge = join(dir, 'huge.tar.gz');
    await writeFile(huge, '');
    truncateSync(huge, MAX_SERVED_BYTES + 1);
    await eventually(() => logs.some((l) => l.code === 'PACK_TOO_LARGE' && l.key === '--max-pack-bytes'));
    assert.equal((await fetch(`${packs}/huge`, { method: 'HEAD' })).status, 404);
    assert.equal((await fetch(`${packs}/draft.tar.gz.tmp`, { method: 'HEAD' })).status, 404);
  });

  it('answers a long poll with the new pack as soon as it is replaced', async () => {
    const old = pack(5);
    const next = pack(6);
    await publish(dir, 'poll.tar.gz', old);
    await eventually(async () => (await fetch(`${packs}/poll`, { method: 'HEAD' })).status === 200);
    const started = Date.now();
    const held = fetch(`${packs}/poll`, { headers: { 'If-None-Match': etagOf(old), Prefer: 'wait=5' } });
    await eventually(() => server.waiting() === 1);
    await publish(dir, 'poll.tar.gz', next);
    const res = await held;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), etagOf(next));
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), next);
    assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms, wait was 5000`);
    assert.equal(server.waiting(), 0);
  });

  it('answers a held long poll with 304 when the pack changes to a version the client listed', async () => {
    const refused = pack(8);
    const active = pack(9);
    await publish(dir, 'listed.tar.gz', refused);
    await eventually(async () => (await fetch(`${packs}/listed`, { method: 'HEAD' })).status === 200);
    const started = Date.now();
    const held = fetch(`${packs}/listed`, {
      headers: { 'If-None-Match': `${etagOf(active)}, ${etagOf(refused)}`, Prefer: 'wait=5' },
    });
    await eventually(() => server.waiting() === 1);
    await publish(dir, 'listed.tar.gz', active);
    const res = await held;
    assert.equal(res.status, 304, 'the client already has these bytes');
    assert.equal(res.headers.get('etag'), etagOf(active));
    assert.equal((await res.arrayBuffer()).byteLength, 0);
    assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms, wait was 5000`);
  });

  it('answers a long poll with 304 when the wait elapses without a change', async () => {
    const started = Date.now();
    const res = await fetch(`${packs}/governance`, { headers: { 'If-None-Match': etagOf(first), Prefer: 'wait=1' } });
    const took = Date.now() - started;
    assert.equal(res.status, 304);
    assert.equal(res.headers.get('etag'), etagOf(first));
    assert.ok(took >= 900 && took < 3000, `took ${took} ms`);
  });

  it('caps a long poll at maxWaitSeconds whatever the client asks', async () => {
    const capped = await startPackServer({ dir, host: '127.0.0.1', port: 0, maxWaitSeconds: 1 });
    try {
      const started = Date.now();
      const res = await fetch(`${capped.url}/v1/policy/packs/governance`, {
        headers: { 'If-None-Match': etagOf(first), Prefer: 'wait=60' },
      });
      assert.equal(res.status, 304);
      assert.ok(Date.now() - started < 3000);
    } finally {
      await capped.close();
    }
  });

  it('drops the waiter when the client disconnects during a long poll', async () => {
    const abort = new AbortController();
    const held = fetch(`${packs}/governance`, {
      headers: { 'If-None-Match': etagOf(first), Prefer: 'wait=5' },
      signal: abort.signal,
    });
    await eventually(() => server.waiting() === 1);
    abort.abort();
    await assert.rejects(held);
    await eventually(() => server.waiting() === 0, { timeoutMs: 1000 });
    await eventually(() => logs.some((l) => l.aborted === true), { timeoutMs: 1000 });
  });

  it('logs one line per request with method, path, status and duration', async () => {
    const before = logs.length;
    await (await fetch(`${packs}/governance?x=1`)).arrayBuffer();
    await eventually(() => logs.length === before + 1);
    const line = logs.at(-1) ?? {};
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/v1/policy/packs/governance?x=1');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
  });

  it('answers held long polls with 304 when it closes', async () => {
    const closing = await startPackServer({ dir, host: '127.0.0.1', port: 0 });
    const held = fetch(`${closing.url}/v1/policy/packs/governance`, {
      headers: { 'If-None-Match': etagOf(first), Prefer: 'wait=30' },
    });
    await eventually(() => closing.waiting() === 1);
    const started = Date.now();
    await closing.close();
    assert.equal((await held).status, 304);
    assert.ok(Date.now() - started < 2000, 'close waited for the poll');
  });

  it('fails with IO_FAILED for a folder that does not exist', async () => {
    await assert.rejects(startPackServer({ dir: join(root, 'missing'), host: '127.0.0.1', port: 0 }), (err) =>
      isWardenError(err, 'IO_FAILED'),
    );
  });
});
