/**
 * Decision-log shipping from a real `warden agent` process to a real collector
 * on 127.0.0.1: killed with SIGKILL while a batch is in flight, it resumes from
 * its cursor on restart (nothing written is lost; what repeats is the batch that
 * was never acknowledged). And interoperability: a real `opa run --server` with
 * decision_logs uploads to the same collector, and Warden's uploads have the
 * same request shape and event fields as OPA's.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir, writeTree } from '../helpers/fs.js';
import { LogCollector, type Upload } from '../helpers/log-collector.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';
import { buildFrom, signedFilePack, simplePolicy } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';

const TOKEN = 'collector-token-1';

// One decision through the data API; its decision_id.
async function decide(url: string, user: string): Promise<string> {
  const res = await fetch(`${url}/v1/data/simple/allow`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: { user } }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { decision_id: string }).decision_id;
}

// The decision ids in the agent's decision-log files.
async function idsOnDisk(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.ndjson'));
  } catch {
    return out;
  }
  for (const name of names)
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n'))
      if (line.endsWith('}')) out.add(String((JSON.parse(line) as { decision_id: string }).decision_id));
  return out;
}

describe('decision-log shipping from an agent process', () => {
  const dir = tempDir();
  const decisions = join(dir, 'data', 'decisions');
  let collector: LogCollector;
  let config: string;
  let opa: OpaServer | undefined;

  before(async () => {
    collector = await LogCollector.start();
    const pack = await buildFrom(simplePolicy(), { sequence: 1 });
    const packLines = await signedFilePack(dir, 'simple', pack.bytes);
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
    config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'listen: 127.0.0.1:0',
        `data_dir: ${join(dir, 'data')}`,
        'log_level: info',
        'packs:',
        ...packLines,
        'decision_log:',
        '  flush_interval_ms: 20',
        '  service:',
        `    url: ${collector.url}`,
        '    token_file: token',
        '    batch_max_events: 10',
        '    upload_interval: { min_delay_seconds: 0.05, max_delay_seconds: 0.1 }',
        '    timeout_seconds: 60',
        '    backoff_max_seconds: 0.2',
      ].join('\n'),
    );
  });

  after(async () => {
    await WardenProcess.killAll();
    await opa?.stop();
    await collector.down();
  });

  it('resumes from its cursor after kill -9 mid-batch: every written event arrives; only the unacknowledged batch repeats', async () => {
    let agent = await startAgentProcess(config);
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) sent.push(await decide(agent.url, i % 2 === 0 ? 'alice' : 'bob'));
    await eventually(() => new Set(collector.acknowledgedIds()).size === 30);
    assert.deepEqual(new Set(collector.acknowledgedIds()), new Set(sent));

    // The collector takes the next upload and never answers it; the agent dies while it waits.
    collector.answer = () => 'hold';
    for (let i = 0; i < 30; i++) sent.push(await decide(agent.url, 'alice'));
    await eventually(async () => (await idsOnDisk(decisions)).size === 60, { what: 'all 60 events written' });
    await eventually(() => collector.held === 1, { what: 'an upload in flight' });
    const inFlight = (collector.uploads.at(-1) as Upload).events.map((e) => String(e.decision_id));
    assert.ok(inFlight.length > 0 && inFlight.length <= 10);
    await agent.proc.stop('SIGKILL');
    await collector.down();
    collector.answer = () => 200;
    await collector.up();

    agent = await startAgentProcess(config);
    await eventually(() => new Set(collector.acknowledgedIds()).size === 60, {
      what: () => `60 acknowledged, got ${new Set(collector.acknowledgedIds()).size}`,
    });
    assert.deepEqual(new Set(collector.acknowledgedIds()), new Set(sent), 'nothing lost');
    assert.equal(collector.acknowledgedIds().length, 60, 'each acknowledged once');
    const received = collector.events.map((e) => String(e.decision_id));
    const repeated = received.filter((id, i) => received.indexOf(id) !== i);
    assert.deepEqual(
      repeated.filter((id) => !inFlight.includes(id)),
      [],
      'the only events received twice are those of the batch in flight at the kill',
    );
    await agent.proc.stop();
  });

  it("uploads as OPA's decision-log plugin does: a real opa run --server posts the same request shape and event fields to the same collector", async () => {
    // OPA: the same policy as a bundle with a revision, logging to the same collector with the same token.
    const bundle = await writeTree(join(dir, 'opa-bundle'), {
      ...Object.fromEntries(Object.entries(simplePolicy()).filter(([n]) => n !== 'warden.yaml')),
      '.manifest': JSON.stringify({ revision: '1', roots: ['simple'] }),
    });
    const opaConfig = join(dir, 'opa.yaml');
    await writeFile(
      opaConfig,
      [
        'services:',
        '  collector:',
        `    url: ${collector.url}`,
        '    credentials:',
        `      bearer: { token: ${TOKEN} }`,
        'decision_logs:',
        '  service: collector',
        '  reporting: { min_delay_seconds: 1, max_delay_seconds: 1 }',
      ].join('\n'),
    );
    opa = await startOpaServer(['--config-file', opaConfig, '--bundle', bundle]);
    const opaId = await decide(opa.url, 'alice');
    const agent = await startAgentProcess(config);
    const wardenId = await decide(agent.url, 'alice');
    const uploadOf = (id: string): Upload | undefined =>
      collector.uploads.find((u) => u.events.some((e) => e.decision_id === id));
    await eventually(() => uploadOf(opaId) !== undefined && uploadOf(wardenId) !== undefined, {
      what: 'both uploads',
      timeoutMs: 20_000,
    });
    const fromOpa = uploadOf(opaId) as Upload;
    const fromWarden = uploadOf(wardenId) as Upload;
    assert.match(String(fromOpa.headers['user-agent']), /Open-Policy-Agent/);
    assert.match(String(fromWarden.headers['user-agent']), /^warden\//);
    for (const u of [fromOpa, fromWarden]) {
      assert.equal(u.method, 'POST');
      assert.equal(u.url, '/v1/logs');
      assert.equal(u.headers['content-type'], 'application/json');
      assert.equal(u.headers['content-encoding'], 'gzip');
      assert.equal(u.headers.authorization, `Bearer ${TOKEN}`);
      assert.ok(Array.isArray(u.events));
    }
    const opaEvent = fromOpa.events.find((e) => e.decision_id === opaId) as Record<string, unknown>;
    const wardenEvent = fromWarden.events.find((e) => e.decision_id === wardenId) as Record<string, unknown>;
    const extra = Object.keys(wardenEvent).filter((k) => !(k in opaEvent));
    assert.deepEqual(extra, [], "every field of Warden's event is a field of OPA's");
    const core = ['labels', 'decision_id', 'bundles', 'path', 'input', 'result', 'requested_by', 'timestamp'];
    for (const k of core) {
      assert.ok(k in opaEvent && k in wardenEvent, `both have ${k}`);
      assert.equal(typeof wardenEvent[k], typeof opaEvent[k], `${k} has the same JSON type`);
    }
    assert.deepEqual(Object.keys(wardenEvent.labels as object).sort(), Object.keys(opaEvent.labels as object).sort());
    assert.equal(wardenEvent.path, opaEvent.path);
    assert.deepEqual(wardenEvent.input, opaEvent.input);
    assert.deepEqual(wardenEvent.result, opaEvent.result);
    const revisions = (e: Record<string, unknown>): string[] =>
      Object.values(e.bundles as Record<string, { revision: unknown }>).map((b) => typeof b.revision);
    assert.deepEqual(revisions(wardenEvent), revisions(opaEvent));
    for (const e of [opaEvent, wardenEvent])
      assert.match(String(e.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    await agent.proc.stop();
  });
});
