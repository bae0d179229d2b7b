/**
 * The reliability model of runtime governance (docs/design.md#governance), one case per
 * `it`, against real `warden agent` and `warden pack serve` processes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { tempDir } from '../helpers/fs.js';
import { ALLOW_AI, ALLOW_CORE, governancePack, governanceYaml, killSwitchPack } from '../helpers/governance.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess, startPackServerProcess } from '../helpers/processes.js';
import { publish } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();

interface Setup {
  readonly dir: string;
  /** Where the packs are published (a pack server folder, or read by file sources). */
  readonly packs: string;
  readonly config: string;
}

// A folder with the signed governance pack published and an agent config over it; `lines` are added at the end.
async function setup(
  opts: {
    killSwitchUrl?: string;
    evidence?: string;
    strict?: boolean;
    lines?: string[];
    dataDir?: string;
    dir?: string;
  } = {},
): Promise<Setup> {
  const dir = opts.dir ?? tempDir();
  const packs = join(dir, 'packs');
  await mkdir(packs, { recursive: true });
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  if (!existsSync(join(packs, 'governance.tar.gz')))
    await publish(packs, 'governance', await governancePack(1), key.privateKey);
  const config = join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    config,
    governanceYaml({
      dataDir: opts.dataDir,
      evidence: opts.evidence,
      strict: opts.strict,
      killSwitchSource:
        opts.killSwitchUrl &&
        `{ http: { url: ${opts.killSwitchUrl}, poll_min_seconds: 0.05, poll_max_seconds: 0.1, timeout_seconds: 1, backoff_max_seconds: 0.2 } }`,
      extra: opts.lines,
    }),
  );
  return { dir, packs, config };
}

// POSTs a context to an agent's /v1/verdict.
async function verdict(
  url: string,
  context: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/v1/verdict`, {
    method: 'POST',
    body: JSON.stringify(context),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

// One series of an agent's /metrics (0 when absent).
async function metric(url: string, series: string): Promise<number> {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('governance reliability model', () => {
  after(() => WardenProcess.killAll());

  it('B1 startup: a missing or corrupt policy → the agent does not start (exit non-zero)', async () => {
    const s = await setup();
    await writeFile(join(s.packs, 'governance.tar.gz'), Buffer.from('not a gzip archive, a corrupt pack'));
    const corrupt = WardenProcess.spawn(['agent', '--config', s.config]);
    assert.notEqual(await corrupt.exited, 0);
    assert.ok(
      corrupt.output.some((l) => l.includes('BOOT_NO_VALID_PACK')),
      corrupt.output.join('\n'),
    );

    const empty = await setup();
    await rm(join(empty.packs, 'governance.tar.gz'));
    const missing = WardenProcess.spawn(['agent', '--config', empty.config]);
    assert.notEqual(await missing.exited, 0);
    assert.ok(
      missing.output.some((l) => l.includes('BOOT_NO_VALID_PACK')),
      missing.output.join('\n'),
    );
  });

  it('B1 runtime: a corrupt update is refused with POLICY_UPDATE_FAILED and the last-known-good keeps answering', async () => {
    const s = await setup();
    const { proc, url } = await startAgentProcess(s.config);
    const before = await verdict(url, ALLOW_CORE);
    assert.equal(before.body.allow, true);
    // Well signed, but not a pack: the digest and signature check out, the archive does not.
    await publish(s.packs, 'governance', Buffer.from('corrupt bytes that are not a pack'), key.privateKey);
    await eventually(() => Promise.resolve(proc.logs().some((l) => l.signal === 'POLICY_UPDATE_FAILED')));
    const line = proc.logs().find((l) => l.signal === 'POLICY_UPDATE_FAILED');
    assert.equal(line?.pack, 'governance');
    assert.equal(line?.kept, before.body.digest);
    const after = await verdict(url, ALLOW_CORE);
    assert.equal(after.status, 200);
    assert.equal(after.body.digest, before.body.digest);
    assert.equal(after.body.allow, true);
    await proc.stop();
  });

  it('B3 kill-switch source down at cold boot with nothing stored: high-risk modules blocked (503), core open', async () => {
    const server = await startPackServerProcess(tempDir());
    const ksUrl = `${server.url}/v1/policy/packs/killswitches`;
    await server.proc.stop('SIGKILL'); // now nothing listens there
    const s = await setup({ killSwitchUrl: ksUrl });
    const { proc, url } = await startAgentProcess(s.config);
    const ai = await verdict(url, ALLOW_AI);
    assert.equal(ai.status, 503);
    assert.equal(ai.body.code, 'KILL_SWITCH_ACTIVE');
    assert.equal((ai.body.details as { source: string }).source, 'cold_start');
    assert.equal((await verdict(url, ALLOW_CORE)).status, 200, 'core modules stay open');
    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      status: string;
      governance: { kill_switches_loaded: boolean };
    };
    assert.equal(health.status, 'degraded');
    assert.equal(health.governance.kill_switches_loaded, false);
    assert.equal((await fetch(`${url}/readyz`)).status, 200, 'the agent is ready: verdicts are answered, safely');
    assert.equal(await metric(url, 'governance_kill_switch_state_loaded'), 0);
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.doesNotMatch(
      text,
      /^policy_stale\{pack="killswitches"\}/m,
      'a kill-switch pack never activated is not a missing policy (WardenNoActivePolicy)',
    );
    assert.match(text, /^policy_count 1$/m);
    await proc.stop();
  });

  it('B3 kill-switch source fails after a good fetch: the last-known-good state stays, also across a restart', async () => {
    const serverDir = tempDir();
    await publish(
      serverDir,
      'killswitches',
      await killSwitchPack(1, { ai_inference: { active: false } }),
      key.privateKey,
    );
    const server = await startPackServerProcess(serverDir);
    const s = await setup({ killSwitchUrl: `${server.url}/v1/policy/packs/killswitches` });
    const first = await startAgentProcess(s.config);
    assert.equal((await verdict(first.url, ALLOW_AI)).body.allow, true, 'loaded state: ai_inference open');
    await server.proc.stop('SIGKILL');
    await eventually(async () => (await metric(first.url, 'policy_stale{pack="killswitches"}')) === 1);
    assert.equal(
      (await verdict(first.url, ALLOW_AI)).body.allow,
      true,
      'source down: the last-known-good state answers',
    );
    await first.proc.stop();

    const second = await startAgentProcess(s.config); // same data_dir, source still down
    const again = await verdict(second.url, ALLOW_AI);
    assert.equal(again.status, 200);
    assert.equal(again.body.allow, true, 'the stored state, not the cold-start default');
    assert.equal(await metric(second.url, 'governance_kill_switch_state_loaded'), 1);
    await second.proc.stop();
  });

  it('B4 tenant derivation fails: 401 without a valid token, 403 without a usable tenant or on another tenant; each counted', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const dir = tempDir();
    await writeFile(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
    );
    const s = await setup({
      dir,
      lines: [
        '  tenants:',
        '    issuer: https://idp.test',
        '    audience: warden',
        '    algorithms: [ES256]',
        '    jwks_file: jwks.json',
      ],
    });
    const mint = (claims: Record<string, unknown>): Promise<string> =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://idp.test')
        .setAudience('warden')
        .setExpirationTime('5m')
        .setSubject('alice')
        .sign(privateKey);
    const { proc, url } = await startAgentProcess(s.config);
    const { tenant: _t, subject: _s, ...context } = ALLOW_CORE;

    const ok = await verdict(url, context, { authorization: `Bearer ${await mint({ tenant: 'acme' })}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.allow, true, 'tenant and subject come from the verified token');

    const none = await verdict(url, context);
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'TOKEN_INVALID');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const noTenant = await verdict(url, context, { authorization: `Bearer ${await mint({})}` });
    assert.equal(noTenant.status, 403);
    assert.equal(noTenant.body.code, 'TENANT_MISSING');
    const malformed = await verdict(url, context, { authorization: `Bearer ${await mint({ tenant: ['acme'] })}` });
    assert.equal(malformed.status, 403);
    assert.equal(malformed.body.code, 'TENANT_MALFORMED');
    const other = await verdict(url, context, {
      authorization: `Bearer ${await mint({ tenant: 'acme' })}`,
      'x-tenant-id': 'globex',
    });
    assert.equal(other.status, 403);
    assert.equal(other.body.code, 'TENANT_MISMATCH');
    const bodyOther = await verdict(
      url,
      { ...context, tenant: 'globex' },
      { authorization: `Bearer ${await mint({ tenant: 'acme' })}` },
    );
    assert.equal(bodyOther.body.code, 'TENANT_MISMATCH', 'a body naming another tenant than the token is refused too');

    for (const reason of ['no_token', 'tenant_missing', 'tenant_malformed', 'tenant_mismatch']) {
      assert.ok((await metric(url, `security_tenant_missing_context_total{reason="${reason}"}`)) >= 1, reason);
    }
    await proc.stop();
  });

  it('B5 evidence: boot.json is written; unwritable in standard mode → EVIDENCE_WRITE_FAILED logged and counted, the agent serves', async () => {
    const good = await setup();
    const a = await startAgentProcess(good.config);
    const digest = (await verdict(a.url, ALLOW_CORE)).body.digest as string;
    assert.equal(
      (await verdict(a.url, ALLOW_AI)).body.allow,
      true,
      'no kill_switches configured: no switches, high-risk modules are not held back',
    );
    const bootJson = join(good.dir, 'evidence', digest.slice('sha256:'.length), 'boot.json');
    await eventually(() => Promise.resolve(existsSync(bootJson)));
    const doc = JSON.parse(await readFile(bootJson, 'utf8')) as {
      policy: { digest: string };
      environment: { name: string };
      config_digest: string;
      time: string;
    };
    assert.equal(doc.policy.digest, digest);
    assert.match(doc.config_digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(doc.time)));
    await a.proc.stop();

    const bad = await setup();
    await writeFile(join(bad.dir, 'not-a-folder'), 'a file where the evidence folder should be');
    const standard = await setup({ dir: bad.dir, evidence: 'not-a-folder/runtime', dataDir: 'data2' });
    const b = await startAgentProcess(standard.config);
    await eventually(() => Promise.resolve(b.proc.logs().some((l) => l.code === 'EVIDENCE_WRITE_FAILED')));
    assert.equal(await metric(b.url, 'governance_evidence_write_failure_total'), 1);
    assert.equal((await verdict(b.url, ALLOW_CORE)).status, 200);
    await b.proc.stop();
  });

  it('decision log: SIGTERM drains every queued verdict to disk (nothing lost at shutdown)', async () => {
    const s = await setup({
      lines: ['decision_log: { dir: decisions, flush_interval_ms: 600000, batch_size: 100000 }'],
    });
    const { proc, url } = await startAgentProcess(s.config);
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++)
      ids.add((await verdict(url, { ...ALLOW_CORE, subject: `user-${i}` })).body.decision_id as string);
    assert.equal(
      await metric(url, 'warden_decision_log_written_total'),
      0,
      'nothing written yet: the timer is 10 minutes away',
    );
    assert.equal(await proc.stop('SIGTERM'), 0);
    const lines: Array<{ decision_id: string; path: string; result: { allow: boolean } }> = [];
    for (const name of await readdir(join(s.dir, 'decisions'))) {
      for (const line of (await readFile(join(s.dir, 'decisions', name), 'utf8')).split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as (typeof lines)[number]);
    }
    assert.deepEqual(new Set(lines.map((l) => l.decision_id)), ids);
    assert.ok(lines.every((l) => l.path === 'governance/verdict' && l.result.allow));
  });

  it('B5 evidence: unwritable in strict mode → the agent exits non-zero before listening', async () => {
    const s = await setup();
    await writeFile(join(s.dir, 'not-a-folder'), 'a file where the evidence folder should be');
    const strict = await setup({ dir: s.dir, evidence: 'not-a-folder/runtime', strict: true, dataDir: 'data3' });
    const proc = WardenProcess.spawn(['agent', '--config', strict.config]);
    assert.notEqual(await proc.exited, 0);
    assert.ok(
      proc.output.some((l) => l.includes('EVIDENCE_WRITE_FAILED')),
      proc.output.join('\n'),
    );
    assert.ok(!proc.output.some((l) => l.includes('warden agent listening')), 'never listened');
  });
});
