/**
 * Registry authentication of the `oci` source and `warden pack push`, against
 * the real CNCF distribution registry:
 * - `auth: htpasswd` (Basic challenge; bcrypt hashes written with bcryptjs):
 *   `source.oci.auth.username_file`/`password_file`, push with the same files or
 *   with a Docker config, wrong or no credentials refused as OCI_AUTH_FAILED
 *   with the last-known-good pack kept by an agent;
 * - `auth: token` (Bearer challenge) with a real token server
 *   (test/helpers/registry-token-server.ts): basic credentials exchanged for a
 *   scoped token (cached across polls), a token minted beforehand as
 *   `auth.token_file`, and the refusals (wrong password at the token endpoint,
 *   anonymous, a pull-only account pushing, a token for another repository).
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ociSourceConfigFrom, readOciCredentials } from '../../src/agent/wiring.js';
import type { WardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { signPack } from '../../src/sign/sign.js';
import type { OciCredentials } from '../../src/source/oci/auth.js';
import { OciClient } from '../../src/source/oci/client.js';
import { pushPack } from '../../src/source/oci/push.js';
import { parseOciReference } from '../../src/source/oci/reference.js';
import { OciSource } from '../../src/source/oci/source.js';
import type { PackUpdate, SourceContext, UpdateOutcome } from '../../src/source/types.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, agentMetric, startAgentProcess } from '../helpers/processes.js';
import { startTokenServer, type TokenServer } from '../helpers/registry-token-server.js';
import { ociToolsPresent, startRegistry, type Registry } from '../helpers/registry.js';
import { variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const skip = ociToolsPresent() ? false : 'registry/oras missing: node scripts/install-tools.mjs registry oras';
const key = p256();

// A SourceContext whose errors the test can read.
function context(): { ctx: SourceContext; errors: WardenError[] } {
  const errors: WardenError[] = [];
  const ctx: SourceContext = {
    pack: 'app',
    log: createLogger('debug', new Writable({ write: (_c, _e, cb) => cb() })),
    metrics: new WardenMetrics({ defaultMetrics: false }),
    onConfirmed: () => undefined,
    onFetchError: (e) => void errors.push(e),
  };
  return { ctx, errors };
}

// A handler that records the updates and activates them.
function recorder(): { updates: PackUpdate[]; handler: (u: PackUpdate) => Promise<UpdateOutcome> } {
  const updates: PackUpdate[] = [];
  return {
    updates,
    handler: (u) => {
      updates.push(u);
      return Promise.resolve({ status: 'activated', digest: `d${updates.length}` });
    },
  };
}

const signed = async (pack: Buffer): Promise<Buffer> =>
  Buffer.from(JSON.stringify(await signPack(pack, key.privateKey)));

// Pushes variant n under ref with these credentials (OciClient + pushPack, as `pack push` does).
async function push(ref: string, n: number, credentials: OciCredentials): Promise<void> {
  const client = new OciClient({
    ref: parseOciReference(ref),
    credentials,
    insecureHttp: true,
    timeoutMs: 5000,
    push: true,
  });
  try {
    const pack = await variant(n);
    await pushPack(client, parseOciReference(ref).reference, pack, 'app.tar.gz', await signed(pack));
  } finally {
    await client.close();
  }
}

// An OciSource polling ref with these credentials.
function source(ref: string, credentials: OciCredentials, ctx: SourceContext): OciSource {
  return new OciSource(
    {
      ref: parseOciReference(ref),
      credentials,
      insecureHttp: true,
      pollMinSeconds: 0.05,
      pollMaxSeconds: 0.1,
      timeoutSeconds: 5,
      maxBytes: 1024 * 1024,
    },
    ctx,
  );
}

async function version(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200);
  return ((await res.json()) as { result: number }).result;
}

describe('oci source: Basic auth (registry auth: htpasswd)', { skip }, () => {
  const dir = tempDir();
  let registry: Registry;
  const users = join(dir, 'username');
  const passwords = join(dir, 'password');
  // A home without a Docker config: the tests never use the machine's own ~/.docker/config.json.
  const noDockerConfig = { HOME: join(dir, 'no-docker') };

  before(async () => {
    registry = await startRegistry({ htpasswd: { alice: 'first-password' } });
    await writeFile(users, 'alice\n');
    await writeFile(passwords, 'first-password\n');
    await writeFile(join(dir, 'release.key'), key.privatePem);
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    await mkdir(noDockerConfig.HOME);
  });
  after(async () => {
    await WardenProcess.killAll();
    await registry.stop();
  });

  it('`warden pack push` with --username-file/--password-file pushes; without credentials it is OCI_AUTH_FAILED', async () => {
    await writeFile(join(dir, 'v1.tar.gz'), await variant(1));
    const args = ['pack', 'push', join(dir, 'v1.tar.gz'), `${registry.host}/policy/app:live`];
    const common = ['--key', join(dir, 'release.key'), '--insecure-http'];
    const anonymous = WardenProcess.spawn([...args, ...common], noDockerConfig);
    assert.notEqual(await anonymous.exited, 0);
    assert.ok(
      anonymous.output.some((l) => l.includes('OCI_AUTH_FAILED')),
      anonymous.output.join('\n'),
    );
    const ok = WardenProcess.spawn(
      [...args, ...common, '--username-file', users, '--password-file', passwords],
      noDockerConfig,
    );
    assert.equal(await ok.exited, 0, ok.output.join('\n'));
    assert.ok(
      ok.output.some((l) => /^signature attached as referrer sha256:/.test(l)),
      ok.output.join('\n'),
    );
  });

  it('the source pulls with the right credentials; a wrong password or none is OCI_AUTH_FAILED and nothing is handed over', async () => {
    const ref = `${registry.host}/policy/app:live`;
    const good = context();
    const rec = recorder();
    const right = source(ref, { kind: 'basic', username: 'alice', password: 'first-password' }, good.ctx);
    assert.equal((await right.fetchOnce(rec.handler))?.status, 'activated');
    assert.equal(rec.updates.length, 1);
    assert.ok(rec.updates[0]?.signature, 'the signature referrer came with the same credentials');
    await right.stop();
    for (const credentials of [
      { kind: 'basic', username: 'alice', password: 'not-the-password' },
      { kind: 'basic', username: 'mallory', password: 'first-password' },
      { kind: 'anonymous' },
    ] as const) {
      const bad = context();
      const s = source(ref, credentials, bad.ctx);
      const err = await rejectsCode(s.fetchOnce(rec.handler), 'OCI_AUTH_FAILED');
      assert.match(err.message, credentials.kind === 'anonymous' ? /none is configured/ : /refused the credentials/);
      assert.deepEqual(
        bad.errors.map((e) => e.code),
        ['OCI_AUTH_FAILED'],
      );
      await s.stop();
    }
    assert.equal(rec.updates.length, 1, 'a refused fetch hands nothing over');
  });

  it('credentials are read again before each poll (rotation without a restart); a stopped source fetches again', async () => {
    const ref = `${registry.host}/policy/app:live`;
    let current: OciCredentials = { kind: 'basic', username: 'alice', password: 'stale-password' };
    let reads = 0;
    const ctx = context();
    const rec = recorder();
    const s = new OciSource(
      {
        ref: parseOciReference(ref),
        credentials: current,
        readCredentials: () => {
          reads += 1;
          return Promise.resolve(current);
        },
        insecureHttp: true,
        pollMinSeconds: 0.05,
        pollMaxSeconds: 0.1,
        timeoutSeconds: 5,
        maxBytes: 1024 * 1024,
      },
      ctx.ctx,
    );
    await rejectsCode(s.fetchOnce(rec.handler), 'OCI_AUTH_FAILED');
    current = { kind: 'basic', username: 'alice', password: 'first-password' };
    assert.equal((await s.fetchOnce(rec.handler))?.status, 'activated', 'the rotated password, same source');
    assert.equal(reads, 2);
    await s.stop();
    // Stopped (its connections closed) and asked again: a new client, the same answer.
    s.setActive(undefined);
    assert.equal((await s.fetchOnce(rec.handler))?.status, 'activated');
    await s.stop();
    // As the agent wires it: the files named by `auth`, read again before each poll; a file that
    // cannot be read any more fails that poll with its own code.
    const users = join(dir, 'rotating-user');
    const passwords = join(dir, 'rotating-password');
    await writeFile(users, 'alice\n');
    await writeFile(passwords, 'first-password\n');
    const section = {
      reference: ref,
      insecure_http: true,
      auth: { username_file: users, password_file: passwords },
      poll_min_seconds: 0.05,
      poll_max_seconds: 0.1,
      timeout_seconds: 5,
      backoff_max_seconds: 1,
    } as unknown as Parameters<typeof ociSourceConfigFrom>[0];
    const limits = { max_pack_bytes: 1024 * 1024 } as Parameters<typeof ociSourceConfigFrom>[1];
    const wired = new OciSource(
      ociSourceConfigFrom(section, limits, await readOciCredentials(section.auth), undefined),
      context().ctx,
    );
    assert.equal((await wired.fetchOnce(rec.handler))?.status, 'activated');
    await writeFile(passwords, 'a-wrong-one\n');
    await rejectsCode(wired.fetchOnce(rec.handler), 'OCI_AUTH_FAILED');
    await rm(passwords);
    await rejectsCode(wired.fetchOnce(rec.handler), 'FETCH_CREDENTIALS_UNAVAILABLE');
    await writeFile(passwords, 'first-password\n');
    wired.setActive(undefined);
    assert.equal((await wired.fetchOnce(rec.handler))?.status, 'activated', 'readable again: the next poll pulls');
    await wired.stop();
  });

  it('an agent keeps its pack while the registry refuses its credentials; `pack push` reads a Docker config; a rotated password file is used at the next poll', async () => {
    const agentDir = join(dir, 'agent');
    await mkdir(agentDir);
    const config = join(agentDir, 'agent.yaml');
    await writeFile(
      config,
      [
        'listen: 127.0.0.1:0',
        `data_dir: ${join(agentDir, 'data')}`,
        'packs:',
        '  - name: app',
        '    source:',
        '      oci:',
        `        reference: ${registry.host}/policy/app:live`,
        '        insecure_http: true',
        '        auth:',
        `          username_file: ${users}`,
        `          password_file: ${passwords}`,
        '        poll_min_seconds: 0.05',
        '        poll_max_seconds: 0.1',
        '        timeout_seconds: 2',
        '        backoff_max_seconds: 0.5',
        '    verify:',
        `      public_keys: [${join(dir, 'policy.pub')}]`,
      ].join('\n'),
    );
    let agent = await startAgentProcess(config);
    assert.equal(await version(agent.url), 1);
    // The password is rotated at the registry (the registry re-reads its htpasswd file); v2 is pushed
    // with the new one from a Docker config, as `docker login` writes it.
    await registry.setUsers({ alice: 'second-password' });
    const home = join(dir, 'home');
    await mkdir(join(home, '.docker'), { recursive: true });
    const auth = Buffer.from('alice:second-password').toString('base64');
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    await writeFile(join(dir, 'v2.tar.gz'), await variant(2));
    const pushed = WardenProcess.spawn(
      [
        'pack',
        'push',
        join(dir, 'v2.tar.gz'),
        `${registry.host}/policy/app:live`,
        '--key',
        join(dir, 'release.key'),
      ].concat(['--insecure-http']),
      { HOME: home },
    );
    assert.equal(await pushed.exited, 0, pushed.output.join('\n'));
    // The agent's old password is refused: coded, counted, and v1 keeps answering.
    await eventually(
      async () => (await agentMetric(agent.url, 'policy_fetch_failure_total', 'code="OCI_AUTH_FAILED"')) >= 2,
      {
        what: 'polls refused with OCI_AUTH_FAILED',
      },
    );
    assert.equal(await version(agent.url), 1);
    const health = (await (await fetch(`${agent.url}/healthz`)).json()) as {
      packs: { app: { last_error: { code: string } } };
    };
    assert.equal(health.packs.app.last_error.code, 'OCI_AUTH_FAILED');
    // The credential files are read again before each poll: the new password is used without a restart.
    await writeFile(passwords, 'second-password\n');
    await eventually(async () => (await version(agent.url)) === 2, { what: 'v2 pulled with the new password' });
    // And a source stopped and started again (a restart of the agent) still pulls.
    await agent.proc.stop();
    agent = await startAgentProcess(config);
    assert.equal(await version(agent.url), 2);
    await agent.proc.stop();
  });
});

describe('oci source: Bearer tokens (registry auth: token, with a real token server)', { skip }, () => {
  let tokens: TokenServer;
  let registry: Registry;
  const ci = { kind: 'basic', username: 'ci', password: 'push-secret' } as const;
  const puller = { kind: 'basic', username: 'agent', password: 'pull-secret' } as const;

  before(async () => {
    tokens = await startTokenServer({
      accounts: {
        ci: { password: 'push-secret', actions: ['pull', 'push'] },
        agent: { password: 'pull-secret', actions: ['pull'] },
      },
    });
    registry = await startRegistry({
      token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, jwks: tokens.jwks },
    });
  });
  after(async () => {
    await registry.stop();
    await tokens.close();
  });

  it('a push exchanges basic credentials for a token with push rights; a pull-only account cannot push', async () => {
    await push(`${registry.host}/policy/app:live`, 1, ci);
    assert.ok(
      tokens.requests.some(
        (r) => r.user === 'ci' && r.status === 200 && r.scopes.some((s) => /^repository:policy\/app:.*push/.test(s)),
      ),
      JSON.stringify(tokens.requests),
    );
    await rejectsCode(push(`${registry.host}/policy/app:other`, 2, puller), 'OCI_AUTH_FAILED');
  });

  it('the source exchanges its credentials for a pull token once and reuses it across polls', async () => {
    const before = tokens.requests.filter((r) => r.user === 'agent').length;
    const { ctx } = context();
    const rec = recorder();
    const s = source(`${registry.host}/policy/app:live`, puller, ctx);
    assert.equal((await s.fetchOnce(rec.handler))?.status, 'activated');
    for (let i = 0; i < 3; i++) assert.equal(await s.fetchOnce(rec.handler), undefined);
    await s.stop();
    const asked = tokens.requests.filter((r) => r.user === 'agent').slice(before);
    assert.equal(asked.length, 1, JSON.stringify(asked));
    assert.deepEqual(asked[0]?.scopes, ['repository:policy/app:pull']);
    assert.equal(asked[0]?.service, tokens.service);
  });

  it('a token minted beforehand (auth.token_file) pulls; one for another repository, or expired, is OCI_AUTH_FAILED', async () => {
    const ref = `${registry.host}/policy/app:live`;
    const rec = recorder();
    const good = source(
      ref,
      { kind: 'token', token: await tokens.mint('ops', [{ name: 'policy/app', actions: ['pull'] }]) },
      context().ctx,
    );
    assert.equal((await good.fetchOnce(rec.handler))?.status, 'activated');
    await good.stop();
    for (const token of [
      await tokens.mint('ops', [{ name: 'policy/elsewhere', actions: ['pull'] }]),
      // Expired beyond the registry's 60 s leeway.
      await tokens.mint('ops', [{ name: 'policy/app', actions: ['pull'] }], -120),
    ]) {
      const s = source(ref, { kind: 'token', token }, context().ctx);
      const err = await rejectsCode(s.fetchOnce(rec.handler), 'OCI_AUTH_FAILED');
      assert.match(err.message, /refused the configured token \(HTTP 401\)/);
      await s.stop();
    }
    assert.equal(rec.updates.length, 1);
  });

  it('a wrong password is refused by the token endpoint, and anonymous gets no pull: both OCI_AUTH_FAILED', async () => {
    const ref = `${registry.host}/policy/app:live`;
    const rec = recorder();
    const wrong = source(ref, { ...puller, password: 'guess' }, context().ctx);
    const err = await rejectsCode(wrong.fetchOnce(rec.handler), 'OCI_AUTH_FAILED');
    assert.match(err.message, /token endpoint answered HTTP 401/);
    await wrong.stop();
    const anonymous = source(ref, { kind: 'anonymous' }, context().ctx);
    const refused = await rejectsCode(anonymous.fetchOnce(rec.handler), 'OCI_AUTH_FAILED');
    assert.match(refused.message, /refused the credentials/);
    await anonymous.stop();
    assert.equal(rec.updates.length, 0);
  });
});
