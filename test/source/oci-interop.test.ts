/**
 * Artefact and signature interop on a real registry, both ways:
 * - a pack pushed by `warden pack push --key` is pulled and run by a real
 *   `opa run --server` configured with an OCI service;
 * - an artefact pushed by `oras push` with OPA's media types and signed by the
 *   real `cosign sign` (a Sigstore bundle attached as an OCI 1.1 referrer) is
 *   pulled and verified by a Warden agent with the matching public key, and
 *   refused with another key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/fs.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { ociToolsPresent, startRegistry, toolPath, type Registry } from '../helpers/registry.js';
import { variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const skip = ociToolsPresent() ? false : 'registry/oras missing: node scripts/install-tools.mjs registry oras';

async function version(url: string): Promise<number | undefined> {
  const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { result?: number }).result;
}

describe('OCI interop', { skip }, () => {
  const dir = tempDir();
  let registry: Registry;
  let opa: OpaServer | undefined;

  before(async () => {
    registry = await startRegistry();
  });

  after(async () => {
    await opa?.stop();
    await WardenProcess.killAll();
    await registry.stop();
  });

  it('a pack pushed by `warden pack push` is pulled and answered by a real `opa run` from the registry', async () => {
    const key = p256();
    await writeFile(join(dir, 'release.key'), key.privatePem);
    await writeFile(join(dir, 'app.tar.gz'), await variant(7));
    const ref = `${registry.host}/policy/app:7`;
    const push = WardenProcess.spawn([
      'pack',
      'push',
      join(dir, 'app.tar.gz'),
      ref,
      '--key',
      join(dir, 'release.key'),
      '--insecure-http',
    ]);
    assert.equal(await push.exited, 0, push.output.join('\n'));
    assert.ok(
      push.output.some((l) => /^signature attached as referrer sha256:/.test(l)),
      push.output.join('\n'),
    );
    const opaDir = join(dir, 'opa');
    await mkdir(opaDir);
    await writeFile(
      join(opaDir, 'config.yaml'),
      [
        'services:',
        '  registry:',
        `    url: http://${registry.host}`,
        '    type: oci',
        'bundles:',
        '  app:',
        '    service: registry',
        `    resource: ${ref}`,
        '    polling:',
        '      min_delay_seconds: 1',
        '      max_delay_seconds: 2',
        `persistence_directory: ${join(opaDir, 'persist')}`,
      ].join('\n'),
    );
    opa = await startOpaServer(['--config-file', join(opaDir, 'config.yaml')]);
    const url = opa.url;
    await eventually(async () => (await version(url)) === 7, { what: 'opa answering from the pulled pack' });
  });

  it('an artefact pushed by oras and signed by cosign sign is pulled and verified by Warden', async () => {
    const work = join(dir, 'oras');
    await mkdir(work);
    await writeFile(join(work, 'bundle.tar.gz'), await variant(9));
    await writeFile(join(work, 'config.json'), '{}');
    const repo = `${registry.host}/policy/cosigned`;
    execFileSync(
      toolPath('oras'),
      [
        'push',
        '--plain-http',
        '--disable-path-validation',
        `${repo}:v9`,
        '--config',
        'config.json:application/vnd.oci.image.config.v1+json',
        'bundle.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip',
      ],
      { cwd: work, stdio: 'pipe' },
    );
    const digest = execFileSync(toolPath('oras'), ['resolve', '--plain-http', `${repo}:v9`], {
      encoding: 'utf8',
    }).trim();
    assert.match(digest, /^sha256:[a-f0-9]{64}$/);
    const env = { ...process.env, COSIGN_PASSWORD: 'test-only', COSIGN_YES: 'true' };
    execFileSync(toolPath('cosign'), ['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], {
      cwd: work,
      env,
      stdio: 'pipe',
    });
    execFileSync(
      toolPath('cosign'),
      [
        'sign',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--use-signing-config=false',
        '--allow-http-registry',
        '--yes',
        `${repo}@${digest}`,
      ],
      { cwd: work, env, stdio: 'pipe' },
    );
    const agentFor = async (name: string, pub: string): Promise<string> => {
      const d = join(dir, name);
      await mkdir(d);
      const path = join(d, 'agent.yaml');
      await writeFile(
        path,
        [
          'listen: 127.0.0.1:0',
          `data_dir: ${join(d, 'data')}`,
          'packs:',
          '  - name: app',
          '    source:',
          '      oci:',
          `        reference: ${repo}:v9`,
          '        insecure_http: true',
          '        poll_min_seconds: 0.1',
          '        poll_max_seconds: 0.2',
          '    verify:',
          `      public_keys: [${pub}]`,
        ].join('\n'),
      );
      return path;
    };
    const good = await startAgentProcess(await agentFor('trusting', join(work, 'cosign.pub')));
    assert.equal(await version(good.url), 9);
    const health = (await (await fetch(`${good.url}/healthz`)).json()) as {
      packs: { app: { active: { signer?: string } } };
    };
    assert.ok(JSON.stringify(health.packs.app).includes('key'), JSON.stringify(health.packs.app));
    // A restart re-verifies the stored pack offline: the attestation chain is stored with it.
    await good.proc.stop();
    await registry.stop();
    const again = await startAgentProcess(join(dir, 'trusting', 'agent.yaml'));
    assert.equal(await version(again.url), 9);
    await again.proc.stop();
    await registry.restart();
    // Another key: refused, nothing to serve.
    const other = p256();
    await writeFile(join(dir, 'other.pub'), other.publicPem);
    const wrong = WardenProcess.spawn(['agent', '--config', await agentFor('distrusting', join(dir, 'other.pub'))]);
    assert.equal(await wrong.exited, 1);
    assert.ok(
      wrong.output.some((l) => /BOOT_NO_VALID_PACK|SIGNATURE_INVALID|SIGNATURE_KEY_UNKNOWN/.test(l)),
      wrong.output.join('\n'),
    );
  });
});
