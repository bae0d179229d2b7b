/**
 * `warden pack replay` as a real process: decision logs written by a real agent
 * (rotated, one gzipped) and by a real `opa run --server`, replayed against a
 * signed candidate that flips some decisions; exact counts by direction, the
 * gates' exit statuses, refused candidates, and memory bounded on a large log.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { locateOpa } from '../../src/opa/locate.js';
import { warden } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';
import { buildFrom, p256, signedBundle } from '../helpers/packs.js';
import { freePort } from '../helpers/opa-server.js';
import { startAgentProcess, WardenProcess } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

/** The shop policy: `allow` for the listed users, `level` doubles (or `factor`s) input.n. */
function shop(users: string[], factor = 2): Record<string, string> {
  return {
    'warden.yaml': [
      'name: shop',
      'entrypoints: [shop/allow, shop/level]',
      'golden:',
      '  - { name: alice, entrypoint: shop/allow, input: { user: alice }, expect: true }',
    ].join('\n'),
    'shop.rego': `package shop\n\ndefault allow := false\n\nallow if input.user in data.shop.users\n\nlevel := input.n * ${factor} if input.n\n`,
    'data.json': JSON.stringify({ shop: { users: users } }),
  };
}

interface Report {
  replayed: number;
  unchanged: number;
  changed: number;
  errors: number;
  outcomes: Record<string, number>;
  by_entrypoint: Record<string, Record<string, number>>;
  not_replayable: Record<string, number>;
  out_of_scope: number;
  other: number;
  malformed: { invalid_json: number; overlong: number; total: number };
  top_changed: Array<{ path: string; outcome: string; input: string; before: string; after: string; count: number }>;
  examples: Array<{ path: string; outcome: string; input: unknown; before: unknown; after: unknown }>;
  gate: { passed: boolean; failures: string[] };
}

const dir = tempDir('warden-replay-');
const key = p256();
const pub = join(dir, 'release.pub');
const base = join(dir, 'base.tar.gz');
const candidate = join(dir, 'candidate.tar.gz');
const same = join(dir, 'same.tar.gz');
const logs = join(dir, 'decisions');

async function signed(path: string, bytes: Buffer): Promise<void> {
  await writeFile(path, bytes);
  await writeFile(`${path}.sigstore.json`, await signedBundle(bytes, key.privateKey));
}

function replay(...args: string[]): { status: number; stdout: string; stderr: string; report: () => Report } {
  const res = warden(['pack', 'replay', ...args, '--public-key', pub]);
  return { ...res, report: () => JSON.parse(res.stdout) as Report };
}

const ask = (url: string, path: string, input: unknown): Promise<Response> =>
  fetch(`${url}/v1/data/${path}`, { method: 'POST', body: JSON.stringify({ input }) });

describe('warden pack replay', () => {
  before(async () => {
    await writeFile(pub, key.publicPem);
    await signed(base, (await buildFrom(shop(['alice', 'bob']), { sequence: 1 })).bytes);
    await signed(candidate, (await buildFrom(shop(['alice', 'carol'], 3), { sequence: 2 })).bytes);
    await signed(same, (await buildFrom(shop(['alice', 'bob']), { sequence: 3 })).bytes);

    // A real agent answers on the base pack and writes its decision log, one line per file batch, rotated.
    await writeFile(
      join(dir, 'agent.yaml'),
      [
        'listen: 127.0.0.1:0',
        'data_dir: data',
        `decision_log: { dir: ${logs}, batch_size: 1, flush_interval_ms: 5, max_file_bytes: 1024, max_files: 1000 }`,
        'packs:',
        '  - name: shop',
        `    source: { file: { path: ${base} } }`,
        `    verify: { public_keys: [${pub}] }`,
      ].join('\n'),
    );
    const { proc, url } = await startAgentProcess(join(dir, 'agent.yaml'));
    try {
      const asked: Array<[string, unknown]> = [
        ...Array.from({ length: 3 }, (): [string, unknown] => ['shop/allow', { user: 'alice' }]),
        ...Array.from({ length: 4 }, (): [string, unknown] => ['shop/allow', { user: 'bob' }]),
        ...Array.from({ length: 2 }, (): [string, unknown] => ['shop/allow', { user: 'carol' }]),
        ['shop/allow', { user: 'dave' }],
        ['shop/level', { n: 1 }],
        ['shop/level', { n: 2 }],
        ['shop/level', { n: 3 }],
        ['shop/level', {}],
        ['shop', { user: 'bob', n: 5 }],
      ];
      for (const [path, input] of asked) assert.equal((await ask(url, path, input)).status, 200);
    } finally {
      assert.equal(await proc.stop('SIGTERM'), 0);
    }
    const files = (await readdir(logs)).sort();
    assert.ok(files.length >= 3, `rotated into several files: ${files.join(', ')}`);
    // The oldest file compressed, as logrotate leaves it.
    const oldest = join(logs, files[0] ?? '');
    await writeFile(`${oldest}.gz`, gzipSync(await readFile(oldest)));
    await rm(oldest);
    // Lines no agent wrote: malformed, over-long, masked, without input, not a decision, another pack's.
    const decision = (extra: Record<string, unknown>): string =>
      JSON.stringify({ decision_id: 'x', path: 'shop/allow', bundles: {}, result: true, ...extra });
    await writeFile(
      join(logs, 'zz-extra.ndjson'),
      [
        '{"decision_id": "cut', // not JSON
        decision({ input: { user: 'alice', pad: 'p'.repeat(5000) } }), // over --max-line-bytes
        decision({ input: { user: 'bob' }, erased: ['/input/secret'] }),
        decision({}), // no input
        JSON.stringify({ level: 'info', msg: 'Received request.', req_id: 1 }),
        decision({ path: 'other/allow', input: { user: 'bob' } }),
        '',
      ].join('\r\n'),
    );
  });

  after(() => WardenProcess.killAll());

  it("reports exactly the agent's decisions that the candidate changes, by entrypoint and direction", () => {
    const res = replay(candidate, '--decisions', logs, '--max-line-bytes', '4096', '--json', '--sample', '3');
    assert.equal(res.status, 0, res.stderr);
    const r = res.report();
    assert.equal(r.replayed, 15);
    assert.equal(r.unchanged, 5);
    assert.equal(r.changed, 10);
    assert.deepEqual(r.outcomes, {
      unchanged: 5,
      allow_to_deny: 5,
      deny_to_allow: 2,
      value_changed: 3,
      became_undefined: 0,
      became_defined: 0,
      error: 0,
    });
    assert.equal(r.by_entrypoint['shop/allow']?.allow_to_deny, 4);
    assert.equal(r.by_entrypoint['shop/allow']?.deny_to_allow, 2);
    assert.equal(r.by_entrypoint['shop/allow']?.unchanged, 4);
    assert.equal(r.by_entrypoint['shop/level']?.value_changed, 3);
    assert.equal(r.by_entrypoint['shop/level']?.unchanged, 1);
    assert.equal(r.by_entrypoint.shop?.allow_to_deny, 1, 'a package path is planned as the agent plans it');
    assert.deepEqual(r.not_replayable, { input_masked: 1, result_masked: 0, no_input: 1, no_path: 0, total: 2 });
    assert.equal(r.out_of_scope, 1);
    assert.equal(r.other, 1);
    assert.deepEqual(r.malformed, { invalid_json: 1, overlong: 1, total: 2 });
    assert.equal(r.errors, 0);
    assert.deepEqual(r.top_changed[0], {
      path: 'shop/allow',
      outcome: 'allow_to_deny',
      input: '{"user":"bob"}',
      before: 'true',
      after: 'false',
      count: 4,
    });
    assert.equal(r.top_changed[1]?.count, 2);
    assert.equal(r.top_changed[1]?.outcome, 'deny_to_allow');
    assert.equal(r.examples.length, 3);
    assert.deepEqual(r.examples[0]?.input, { user: 'bob' });
    assert.deepEqual(r.examples[0]?.before, { kind: 'value', json: 'true' });
    assert.deepEqual(r.examples[0]?.after, { kind: 'value', json: 'false' });
    assert.deepEqual(r.gate, { passed: true, failures: [] });
  });

  it('prints a text report for people, and no progress line when stderr is not a terminal', () => {
    const res = replay(candidate, '--decisions', logs, '--entrypoint', 'shop/allow');
    assert.equal(res.status, 0, res.stderr);
    // The long line is within the default --max-line-bytes: alice's decision, replayed.
    assert.match(res.stdout, /replayed 11: unchanged 5, changed 6 \(54\.545%\), candidate errors 0/);
    assert.match(res.stdout, /out of scope 6;/);
    assert.match(res.stdout, /shop\/allow: allow_to_deny 4, deny_to_allow 2 \(unchanged 5\)/);
    assert.match(res.stdout, /^ +4 {2}shop\/allow allow_to_deny: true → false {2}input \{"user":"bob"\}$/m);
    assert.match(res.stdout, /gate: passed/);
    assert.equal(res.stderr, '');
  });

  it('gates: --fail-on and --max-changed exit 3 when they fail, 0 when they hold', () => {
    const d2a = replay(candidate, '--decisions', logs, '--fail-on', 'deny-to-allow');
    assert.equal(d2a.status, 3, d2a.stderr);
    assert.match(d2a.stdout, /gate: FAILED\n {2}--fail-on deny-to-allow: 2 decision\(s\) deny to allow/);
    assert.equal(replay(candidate, '--decisions', logs, '--max-changed', '70%').status, 0);
    assert.equal(replay(candidate, '--decisions', logs, '--max-changed', '50%').status, 3);
    assert.equal(replay(candidate, '--decisions', logs, '--max-changed', '10').status, 0);
    assert.equal(replay(candidate, '--decisions', logs, '--max-changed', '9').status, 3);
    const unchanged = replay(same, '--decisions', logs, '--fail-on', 'any-change', '--max-changed', '0%', '--json');
    assert.equal(unchanged.status, 0, unchanged.stderr);
    assert.equal(unchanged.report().changed, 0);
    const bad = replay(candidate, '--decisions', logs, '--fail-on', 'sometimes');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^warden: USAGE: --fail-on takes/);
    assert.equal(replay(candidate).status, 2, '--decisions is required');
  });

  it('refuses an unsigned or tampered candidate with the codes of pack verify', async () => {
    const unsigned = join(dir, 'unsigned.tar.gz');
    await writeFile(unsigned, await readFile(candidate));
    const res = replay(unsigned, '--decisions', logs);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^warden: SIGNATURE_MISSING: /);
    const tampered = join(dir, 'tampered.tar.gz');
    const bytes = await readFile(candidate);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    await writeFile(tampered, bytes);
    await writeFile(`${tampered}.sigstore.json`, await readFile(`${candidate}.sigstore.json`));
    const t = replay(tampered, '--decisions', logs);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /^warden: DIGEST_MISMATCH: /);
    const wrongDigest = replay(candidate, '--decisions', logs, '--digest', `sha256:${'0'.repeat(64)}`);
    assert.equal(wrongDigest.status, 1);
    assert.match(wrongDigest.stderr, /^warden: DIGEST_MISMATCH: /);
  });

  it("replays OPA's own decision log (a real opa run --server, console decision logs, a mask policy)", async () => {
    const mask = join(dir, 'mask.rego');
    await writeFile(mask, 'package system.log\n\nmask contains "/input/secret" if input.input.secret\n');
    const opaLog = join(dir, 'opa.log');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const out = createWriteStream(opaLog);
    await new Promise((resolve) => out.once('open', resolve));
    const child = spawn(
      locateOpa().path,
      ['run', '--server', '--addr', `127.0.0.1:${port}`, '--set', 'decision_logs.console=true', base, mask],
      { stdio: ['ignore', out, out] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await eventually(async () => (await fetch(`${url}/health`).catch(() => undefined))?.status === 200, {
        what: 'opa answering /health',
        timeoutMs: 20_000,
      });
      for (const input of [{ user: 'bob' }, { user: 'bob' }, { user: 'carol' }, { user: 'alice' }])
        assert.equal((await ask(url, 'shop/allow', input)).status, 200);
      await ask(url, 'shop/allow', { user: 'bob', secret: 's3cret' }); // logged with /input/secret erased
      await ask(url, 'shop', { user: 'carol', n: 1 }); // a package path: {allow, level}
      await fetch(`${url}/v1/data/shop/level`); // no input
      await fetch(`${url}/v1/query`, { method: 'POST', body: JSON.stringify({ query: 'data.shop.allow' }) }); // no path
      await eventually(async () => (await readFile(opaLog, 'utf8')).split('"msg":"Decision Log"').length - 1 === 8, {
        what: 'opa logging 8 decisions',
      });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const res = replay(candidate, '--decisions', opaLog, '--json');
    assert.equal(res.status, 0, res.stderr);
    const r = res.report();
    assert.equal(r.replayed, 5);
    assert.equal(r.outcomes.allow_to_deny, 2);
    assert.equal(r.outcomes.deny_to_allow, 2, 'carol on shop/allow and on the package path shop');
    assert.equal(r.outcomes.unchanged, 1);
    assert.deepEqual(r.not_replayable, { input_masked: 1, result_masked: 0, no_input: 1, no_path: 1, total: 3 });
    assert.equal(r.malformed.total, 0);
    assert.ok(r.other > 0, "OPA's own server log lines are not decisions");
  });

  it('streams a 200,000-line log in bounded memory (a 64 MB heap, far below the log size)', async () => {
    const big = join(dir, 'big.ndjson.gz');
    const pad = 'x'.repeat(400);
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      // Every input different: bob's (allowed, then denied) change, the others' (denied by both) do not.
      const user = i % 2 === 0 ? 'bob' : `user-${i}`;
      lines.push(
        JSON.stringify({ decision_id: `d${i}`, path: 'shop/allow', input: { user, i, pad }, result: user === 'bob' }),
      );
    }
    const text = `${lines.join('\n')}\n`;
    lines.length = 0;
    await writeFile(big, gzipSync(text));
    assert.ok(text.length > 80 * 1024 * 1024, `the log is ${text.length} bytes`);
    const res = spawnSync(
      process.execPath,
      ['--max-old-space-size=64', BIN, 'pack', 'replay', candidate, '--decisions', big, '--public-key', pub, '--json'],
      { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
    );
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report & { groups: { distinct: number; ungrouped: number } };
    assert.equal(r.replayed, 200_000);
    assert.equal(r.outcomes.allow_to_deny, 100_000);
    assert.equal(r.outcomes.unchanged, 100_000);
    assert.deepEqual(r.groups, { distinct: 10_000, ungrouped: 90_000 }, 'groups are capped, the rest counted');
  });
});
