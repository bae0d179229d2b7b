/**
 * The `directory` source against a Kubernetes ConfigMap volume: real `warden
 * agent` processes on 127.0.0.1, the volume updated by an imitation of the
 * kubelet's AtomicWriter (test/helpers/kubelet.ts), decisions asked over HTTP.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectSources, sourcesDigest } from '../../src/pack/sources.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { removeConfigMap, writeConfigMap } from '../helpers/kubelet.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';
import { VERBATIM_PRIORITY } from '../helpers/document-policies.js';

type LogLine = Record<string, unknown>;

interface PackHealth {
  readonly active?: { digest: string; revision: string };
  readonly last_reload?: { result: string; error?: { code: string; message: string } };
  readonly last_error?: { code: string; message: string };
  readonly stale: boolean;
}

/** A policy whose `cm/version` answers n; `cm/allow` admits ada. */
function cmPolicy(n: number): string {
  return `package cm\n\nversion := ${n}\n\ndefault allow := false\n\nallow if input.user == "ada"\n`;
}

/** Rego that does not parse: the `}` on line 9 closes a body whose last expression is unfinished. */
const UNPARSABLE = 'package cm\n\nversion := 999\n\ndefault allow := false\n\nallow if {\n\tinput.user ==\n}\n';

// Writes an agent configuration with one directory-source pack; returns its path.
async function agentConfig(
  dir: string,
  policyDir: string,
  opts: { name?: string; entrypoints?: readonly string[]; debounceMs?: number; regoVersion?: 'v0' | 'v1' } = {},
): Promise<string> {
  const path = join(dir, 'agent.yaml');
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      `data_dir: ${join(dir, 'data')}`,
      'log_level: info',
      'packs:',
      `  - name: ${opts.name ?? 'cm'}`,
      '    source:',
      '      directory:',
      `        path: ${policyDir}`,
      ...(opts.entrypoints ? [`        entrypoints: [${opts.entrypoints.join(', ')}]`] : []),
      `        rego_version: ${opts.regoVersion ?? 'v1'}`,
      `        debounce_ms: ${opts.debounceMs ?? 50}`,
      '        rescan_seconds: 1',
      '    verify:',
      '      unsigned: true',
    ].join('\n'),
  );
  return path;
}

// POSTs input to /v1/data/<path>; returns the result (undefined if none).
async function decide(url: string, path: string, input: unknown = {}): Promise<unknown> {
  const res = await fetch(`${url}/v1/data/${path}`, {
    method: 'POST',
    body: JSON.stringify({ input }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 200, `POST /v1/data/${path} answered ${res.status}`);
  return ((await res.json()) as { result?: unknown }).result;
}

// The version the agent answers right now.
async function version(url: string): Promise<unknown> {
  return decide(url, 'cm/version');
}

// /healthz: overall status and one pack's state.
async function health(url: string, pack = 'cm'): Promise<{ status: string; pack: PackHealth }> {
  const body = (await (await fetch(`${url}/healthz`)).json()) as {
    status: string;
    packs: Record<string, PackHealth | undefined>;
  };
  const p = body.packs[pack];
  assert.ok(p, `/healthz lists pack ${pack}`);
  return { status: body.status, pack: p };
}

// One series of an agent's /metrics (0 when absent).
async function metric(url: string, series: string): Promise<number> {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

// The agent's JSON log lines printed since output index `mark`.
function logsSince(proc: WardenProcess, mark: number): LogLine[] {
  return proc.output
    .slice(mark)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

// Waits for a log line after `mark` with message msg (and matching fields); returns it.
async function waitForLog(
  proc: WardenProcess,
  mark: number,
  msg: string,
  fields: LogLine = {},
  timeoutMs = 10_000,
): Promise<LogLine> {
  let found: LogLine | undefined;
  const matches = (l: LogLine): boolean => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v);
  await eventually(
    () => {
      found = logsSince(proc, mark).find(matches);
      return found !== undefined;
    },
    { timeoutMs, everyMs: 10, what: `log line "${msg}" ${JSON.stringify(fields)}` },
  );
  return found as LogLine;
}

// The digest the directory source computes for the ConfigMap's current content.
async function contentDigest(cmDir: string, spec?: string): Promise<string> {
  return sourcesDigest(await collectSources(join(cmDir, '..data')), spec === undefined ? undefined : Buffer.from(spec));
}

after(() => WardenProcess.killAll());

describe('agent with a directory source on a ConfigMap volume', () => {
  const dir = tempDir();
  const cm = join(dir, 'policies');
  let agent: { proc: WardenProcess; url: string };
  let current = 1;

  // Writes version n through the atomic writer.
  async function update(n: number): Promise<void> {
    await writeConfigMap(cm, { 'cm.rego': cmPolicy(n) });
  }

  before(async () => {
    await update(1);
    agent = await startAgentProcess(await agentConfig(dir, cm, { entrypoints: ['cm/version', 'cm/allow'] }));
    assert.equal(await version(agent.url), 1);
    assert.equal(await decide(agent.url, 'cm/allow', { user: 'ada' }), true);
  });

  it('answers from each of 50 ConfigMap updates in a row, one reload each', async (t) => {
    const mark = agent.proc.output.length;
    const seen: number[] = [];
    const each: number[] = [];
    const started = performance.now();
    for (let n = 2; n <= 51; n++) {
      const t0 = performance.now();
      await update(n);
      await eventually(async () => (await version(agent.url)) === n, { what: `version ${n} answered` });
      each.push(performance.now() - t0);
      seen.push(n);
    }
    const totalMs = performance.now() - started;
    current = 51;
    assert.deepEqual(
      seen,
      Array.from({ length: 50 }, (_, i) => i + 2),
    );
    const logs = logsSince(agent.proc, mark);
    assert.equal(logs.filter((l) => l.msg === 'policy reloaded').length, 50, 'one reload per update');
    assert.equal(logs.filter((l) => l.msg === 'policy reload failed').length, 0);
    const sorted = [...each].sort((a, b) => a - b);
    t.diagnostic(
      `50 updates in ${(totalMs / 1000).toFixed(1)} s; per update p50 ${sorted[24]?.toFixed(0)} ms, max ${sorted[49]?.toFixed(0)} ms`,
    );
  });

  it('refuses an update that does not parse, keeps answering from the last good one, and takes the next good one', async () => {
    const kept = (await health(agent.url)).pack.active?.digest;
    const mark = agent.proc.output.length;
    await writeConfigMap(cm, { 'cm.rego': UNPARSABLE });
    const expected = await contentDigest(cm);
    const line = await waitForLog(agent.proc, mark, 'policy reload failed');
    assert.equal(line.code, 'PACK_COMPILE_FAILED');
    assert.equal(line.where, 'cm.rego:9');
    assert.equal(line.content_sha256, expected);
    assert.equal(line.kept, kept);
    assert.match(String(line.err), /cm\.rego:9:1: rego_parse_error/);
    assert.equal(await version(agent.url), current);
    const h = await health(agent.url);
    assert.equal(h.status, 'degraded');
    assert.equal(h.pack.last_reload?.result, 'refused');
    assert.equal(h.pack.last_reload?.error?.code, 'PACK_COMPILE_FAILED');
    assert.equal(h.pack.active?.digest, kept);

    current = 60;
    await update(current);
    await eventually(async () => (await version(agent.url)) === current, { what: 'the next good update answered' });
    const after = await health(agent.url);
    assert.equal(after.pack.last_reload?.result, 'activated');
    assert.equal(after.status, 'ok');
  });

  it('coalesces a burst of 10 updates within 100 ms into one or two reloads, and the last one wins', async (t) => {
    // Its own agent with the default debounce (200 ms): whether a burst coalesces is the debounce's
    // property, not the speed of this shared machine's disk, so no wall-clock assertion here.
    const burstDir = tempDir();
    const burstCm = join(burstDir, 'cm');
    await mkdir(burstCm);
    await writeConfigMap(burstCm, { 'cm.rego': cmPolicy(100) });
    const burstAgent = await startAgentProcess(
      await agentConfig(burstDir, burstCm, { entrypoints: ['cm/version', 'cm/allow'], debounceMs: 200 }),
    );
    const mark = burstAgent.proc.output.length;
    const started = performance.now();
    let gap = 0;
    let last = started;
    for (let i = 1; i <= 10; i++) {
      await sleep(Math.max(0, started + (i - 1) * 6 - performance.now())); // paces the burst (one every ~6 ms): the spacing is the input, not a wait
      await writeConfigMap(burstCm, { 'cm.rego': cmPolicy(100 + i) });
      gap = Math.max(gap, performance.now() - last);
      last = performance.now();
    }
    const burstMs = performance.now() - started;
    await eventually(async () => (await version(burstAgent.url)) === 110, {
      what: 'the last update of the burst answered',
    });
    // Nothing else may follow: wait until the source looks again (the 1 s rescan, or a late watch event) and finds
    // the content it last built unchanged. Looks run one after another, so every look still due has then been made.
    const unchanged = 'policy_fetch_duration_seconds_count{pack="cm",source="directory",result="unchanged"}';
    const looked = await metric(burstAgent.url, unchanged);
    await eventually(async () => (await metric(burstAgent.url, unchanged)) > looked, {
      what: 'a look that finds the last content of the burst unchanged',
    });
    const reloads = logsSince(burstAgent.proc, mark).filter((l) => l.msg === 'policy reloaded').length;
    t.diagnostic(`burst of 10 in ${burstMs.toFixed(0)} ms (longest gap ${gap.toFixed(0)} ms) → ${reloads} reload(s)`);
    assert.ok(reloads >= 1 && reloads <= 2, `${reloads} reloads`);
    assert.equal(await version(burstAgent.url), 110);
    await burstAgent.proc.stop();
  });

  it('keeps answering when the ConfigMap is emptied, reports the refusal in /healthz, and takes content when it comes back', async () => {
    const kept = (await health(agent.url)).pack.active?.digest;
    const mark = agent.proc.output.length;
    await writeConfigMap(cm, {});
    const line = await waitForLog(agent.proc, mark, 'policy reload failed');
    assert.equal(line.code, 'PACK_SPEC_INVALID');
    assert.match(String(line.err), /no \.rego files/);
    assert.equal(await version(agent.url), current);
    const h = await health(agent.url);
    assert.equal(h.status, 'degraded');
    assert.equal(h.pack.last_reload?.result, 'refused');
    assert.equal(h.pack.last_reload?.error?.code, 'PACK_SPEC_INVALID');
    assert.equal(h.pack.active?.digest, kept);

    current = 120;
    await update(current);
    await eventually(async () => (await version(agent.url)) === current, {
      what: 'the content after the empty ConfigMap answered',
    });
    assert.equal((await health(agent.url)).status, 'ok');
  });

  it('keeps answering when the volume folder is removed, reports it stale, takes content when it comes back, and watches it again', async (t) => {
    const kept = (await health(agent.url)).pack.active?.digest;
    const mark = agent.proc.output.length;
    await removeConfigMap(cm);
    const line = await waitForLog(agent.proc, mark, 'policy folder unreadable; keeping the active policy');
    assert.equal(line.code, 'FETCH_FAILED');
    assert.equal(await version(agent.url), current);
    await eventually(async () => (await health(agent.url)).pack.stale, { what: '/healthz reports the pack stale' });
    const h = await health(agent.url);
    assert.equal(h.status, 'degraded');
    assert.equal(h.pack.last_error?.code, 'FETCH_FAILED');
    assert.equal(h.pack.active?.digest, kept);

    current = 130;
    await update(current);
    await eventually(async () => (await version(agent.url)) === current, {
      what: 'the content in the re-created folder answered',
    });
    assert.equal((await health(agent.url)).pack.stale, false);

    await assertWatched(t, 131);
  });

  it('watches the volume folder again after it was removed and created again at once', async (t) => {
    await removeConfigMap(cm);
    current = 140;
    await update(current); // before any rescan: the new folder may even reuse the old one's inode number
    await eventually(async () => (await version(agent.url)) === current, {
      what: 'the content in the re-created folder answered',
    });
    await assertWatched(t, 141);
  });

  // Three updates from version `first` on must each find the folder watched again. The source logs whether a
  // watch is live and what noticed the change (a rescan may win the race against the debounce: that is fine).
  async function assertWatched(t: { diagnostic: (message: string) => void }, first: number): Promise<void> {
    const seen: string[] = [];
    const watching: boolean[] = [];
    for (let n = first; n < first + 3; n++) {
      const from = agent.proc.output.length;
      await update(n);
      const changed = await waitForLog(agent.proc, from, 'policy folder changed; building');
      seen.push(String(changed.trigger));
      watching.push(changed.watching === true);
      await eventually(async () => (await version(agent.url)) === n, { what: `version ${n} answered` });
      current = n;
    }
    t.diagnostic(`noticed by: ${seen.join(', ')}`);
    assert.deepEqual(watching, [true, true, true], 'the folder is watched again for every update');
    assert.ok(seen.includes('watch'), `at least one update is noticed by the watch itself (${seen.join(', ')})`);
  }
});

describe('agent with a directory source on a plain folder', () => {
  const dir = tempDir();
  const folder = join(dir, 'policies');
  let agent: { proc: WardenProcess; url: string };

  before(async () => {
    await writeTree(folder, { 'cm.rego': cmPolicy(1) });
    agent = await startAgentProcess(await agentConfig(dir, folder, { entrypoints: ['cm/version', 'cm/allow'] }));
    assert.equal(await version(agent.url), 1);
  });

  it('reloads when a file is rewritten in place', async () => {
    for (let n = 2; n <= 4; n++) {
      await writeFile(join(folder, 'cm.rego'), cmPolicy(n));
      await eventually(async () => (await version(agent.url)) === n, { what: `version ${n} answered` });
    }
  });

  it('keeps answering when every file is deleted, and takes a file written again', async () => {
    const mark = agent.proc.output.length;
    await unlink(join(folder, 'cm.rego'));
    const line = await waitForLog(agent.proc, mark, 'policy reload failed');
    assert.equal(line.code, 'PACK_SPEC_INVALID');
    assert.equal(await version(agent.url), 4);
    assert.equal((await health(agent.url)).pack.last_reload?.result, 'refused');
    await writeFile(join(folder, 'cm.rego'), cmPolicy(5));
    await eventually(async () => (await version(agent.url)) === 5, { what: 'version 5 answered' });
  });
});

describe('agent with a ConfigMap that carries its own warden.yaml', () => {
  const dir = tempDir();
  const cm = join(dir, 'policies');
  let agent: { proc: WardenProcess; url: string };
  const spec = [
    'name: cm',
    'entrypoints: [cm/version, cm/allow]',
    'golden:',
    '  - { name: ada may, entrypoint: cm/allow, input: { user: ada }, expect: true }',
    '  - { name: bob may not, entrypoint: cm/allow, input: { user: bob }, expect: false }',
    '',
  ].join('\n');

  before(async () => {
    await writeConfigMap(cm, { 'warden.yaml': spec, 'cm.rego': cmPolicy(1) });
    agent = await startAgentProcess(await agentConfig(dir, cm)); // no entrypoints in the agent config: warden.yaml's
    assert.equal(await version(agent.url), 1);
  });

  it('refuses an update that breaks a golden case of its warden.yaml, then takes the next that passes them', async () => {
    const mark = agent.proc.output.length;
    await writeConfigMap(cm, { 'warden.yaml': spec, 'cm.rego': 'package cm\n\nversion := 2\n\nallow := true\n' });
    const expected = await contentDigest(cm, spec);
    const line = await waitForLog(agent.proc, mark, 'policy reload failed');
    assert.equal(line.code, 'PACK_GOLDEN_FAILED');
    assert.match(String(line.err), /bob may not/);
    assert.equal(line.content_sha256, expected);
    assert.equal(await version(agent.url), 1);
    assert.equal(await decide(agent.url, 'cm/allow', { user: 'bob' }), false);

    await writeConfigMap(cm, { 'warden.yaml': spec, 'cm.rego': cmPolicy(3) });
    await eventually(async () => (await version(agent.url)) === 3, { what: 'version 3 answered' });
    const reloaded = await waitForLog(agent.proc, mark, 'policy reloaded');
    assert.equal(reloaded.golden, 2, 'the golden cases ran on the activated pack');
  });
});

describe("agent on the guide's SignalProcessing ConfigMap (rego_version v1)", () => {
  const dir = tempDir();
  const cm = join(dir, 'kubernaut-rego-policies');
  let agent: { proc: WardenProcess; url: string };
  const entrypoints = ['priority/priority', 'environment/environment', 'labels/custom_labels'];
  const good = {
    'priority.rego': [
      'package priority',
      '',
      'default priority := "P2"',
      '',
      'priority := "P0" if {',
      '\tinput.severity == "critical"',
      '\tinput.environment == "production"',
      '}',
      '',
      'priority := "P1" if {',
      '\tinput.severity == "critical"',
      '\tinput.environment != "production"',
      '}',
      '',
      'priority := "P3" if input.severity == "info"',
      '',
    ].join('\n'),
    'environment.rego':
      'package environment\n\ndefault environment := "unknown"\n\nenvironment := "production" if startswith(input.namespace.name, "prod-")\n',
    'labels.rego': 'package labels\n\ndefault custom_labels := {}\n',
  };
  // The guide's priority.rego, verbatim: pre-1.0 syntax (`{` bodies without `if`) and an unconditional fallback.
  before(async () => {
    await writeConfigMap(cm, good);
    agent = await startAgentProcess(await agentConfig(dir, cm, { name: 'signalprocessing', entrypoints }));
  });

  it("refuses the guide's verbatim v0-style priority.rego naming file and line, and keeps the good policy", async () => {
    const critical = { severity: 'critical', environment: 'production' };
    assert.equal(await decide(agent.url, 'priority/priority', critical), 'P0');
    const mark = agent.proc.output.length;
    await writeConfigMap(cm, { ...good, 'priority.rego': VERBATIM_PRIORITY });
    const expected = await contentDigest(cm);
    const line = await waitForLog(agent.proc, mark, 'policy reload failed');
    assert.equal(line.code, 'PACK_COMPILE_FAILED');
    assert.equal(line.where, 'priority.rego:4');
    assert.equal(line.content_sha256, expected);
    assert.match(String(line.err), /priority\.rego:4:1: rego_parse_error: `if` keyword is required before rule body/);
    const h = await health(agent.url, 'signalprocessing');
    assert.equal(h.pack.last_reload?.result, 'refused');
    assert.match(h.pack.last_reload?.error?.message ?? '', /priority\.rego:4:1/);
    assert.equal(await decide(agent.url, 'priority/priority', critical), 'P0');
    assert.equal(await decide(agent.url, 'priority/priority', { severity: 'info' }), 'P3');
  });

  after(async () => {
    await rm(cm, { recursive: true, force: true });
  });
});

describe('agent on a pre-1.0 ConfigMap whose fallback is a rule, not a default (rego_version v0, no warden.yaml)', () => {
  const entrypoints = ['signalprocessing/priority/priority'];
  const critical = { severity: 'critical', environment: 'production' };
  // The policy: builds with opa, then fails every critical/production decision with a conflict.
  const conflicting = [
    'package signalprocessing.priority',
    '',
    'priority := "P2"',
    '',
    'priority := "P0" { input.severity == "critical"; input.environment == "production" }',
    '',
  ].join('\n');
  const fixed = conflicting.replace('priority := "P2"', 'default priority := "P2"');

  it('refuses it on reload, reports PACK_RULE_CONFLICT in /healthz, and the last good policy keeps answering', async () => {
    const dir = tempDir();
    const cm = join(dir, 'policies');
    await writeConfigMap(cm, { 'priority.rego': fixed });
    const agent = await startAgentProcess(
      await agentConfig(dir, cm, { name: 'signalprocessing', entrypoints, regoVersion: 'v0' }),
    );
    try {
      assert.equal(await decide(agent.url, 'signalprocessing/priority/priority', critical), 'P0');
      const kept = (await health(agent.url, 'signalprocessing')).pack.active?.digest;
      const mark = agent.proc.output.length;
      await writeConfigMap(cm, { 'priority.rego': conflicting });
      const line = await waitForLog(agent.proc, mark, 'policy reload failed');
      assert.equal(line.code, 'PACK_RULE_CONFLICT');
      assert.equal(line.where, 'priority.rego:3');
      assert.equal(line.kept, kept);
      const h = await health(agent.url, 'signalprocessing');
      assert.equal(h.status, 'degraded');
      assert.equal(h.pack.last_reload?.result, 'refused');
      assert.equal(h.pack.last_reload?.error?.code, 'PACK_RULE_CONFLICT');
      assert.match(
        h.pack.last_reload?.error?.message ?? '',
        /^priority\.rego:3: rule data\.signalprocessing\.priority\.priority always gives "P2", but priority\.rego:5 gives "P0"/,
      );
      assert.equal(h.pack.active?.digest, kept);
      assert.equal(await decide(agent.url, 'signalprocessing/priority/priority', critical), 'P0');
      assert.equal(await decide(agent.url, 'signalprocessing/priority/priority', { severity: 'info' }), 'P2');
    } finally {
      await agent.proc.stop();
    }
  });

  it('refuses it at start-up: BOOT_NO_VALID_PACK carrying PACK_RULE_CONFLICT and both lines', async () => {
    const dir = tempDir();
    const cm = join(dir, 'policies');
    await writeConfigMap(cm, { 'priority.rego': conflicting });
    const proc = WardenProcess.spawn([
      'agent',
      '--config',
      await agentConfig(dir, cm, { name: 'signalprocessing', entrypoints, regoVersion: 'v0' }),
    ]);
    // Exits, or (before the check existed) starts listening and answers 500 for critical/production.
    const first = await Promise.race([
      proc.exited,
      proc.waitFor(/^warden agent listening on/, 60_000).then(
        () => 'listening' as const,
        () => proc.exited,
      ),
    ]);
    if (first === 'listening') await proc.stop();
    assert.equal(first, 1, proc.output.join('\n'));
    assert.match(
      proc.output.join('\n'),
      /^warden: BOOT_NO_VALID_PACK: pack "signalprocessing": .*PACK_RULE_CONFLICT: priority\.rego:3: rule data\.signalprocessing\.priority\.priority always gives "P2", but priority\.rego:5 gives "P0"/m,
    );
  });
});

describe('agent start-up on a ConfigMap volume', () => {
  it('exits non-zero with BOOT_NO_VALID_PACK carrying the compile error when the first content does not build', async () => {
    const dir = tempDir();
    const cm = join(dir, 'policies');
    await writeConfigMap(cm, { 'cm.rego': UNPARSABLE });
    const proc = WardenProcess.spawn([
      'agent',
      '--config',
      await agentConfig(dir, cm, { entrypoints: ['cm/version', 'cm/allow'] }),
    ]);
    assert.equal(await proc.exited, 1);
    const out = proc.output.join('\n');
    assert.match(out, /^warden: BOOT_NO_VALID_PACK: pack "cm": .*PACK_COMPILE_FAILED: .*cm\.rego:9:1/m);
    assert.equal(
      proc.logs().filter((l) => l.msg === 'policy reload failed').length,
      1,
      'retries do not log the same refusal again',
    );
  });
});
