/**
 * `ca_file` of the `oci` and `s3` sources against real servers on HTTPS with a
 * private CA (test/helpers/pki.ts): the CNCF distribution registry
 * (`http.tls`) and MinIO (`--certs-dir`). With the CA the pack is fetched;
 * without it the fetch is FETCH_FAILED with the TLS verification code in
 * `details.system_code`, nothing is handed over, and an agent restarted
 * without the CA keeps serving its stored pack (stale, last_error FETCH_FAILED)
 * while a newer one waits on the server.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { signPack } from '../../src/sign/sign.js';
import { OciClient } from '../../src/source/oci/client.js';
import { pushPack } from '../../src/source/oci/push.js';
import { parseOciReference } from '../../src/source/oci/reference.js';
import { OciSource } from '../../src/source/oci/source.js';
import { S3Source } from '../../src/source/s3.js';
import type { PackSource, PackUpdate, SourceContext, UpdateOutcome } from '../../src/source/types.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir } from '../helpers/fs.js';
import { MinioServer } from '../helpers/minio.js';
import { p256 } from '../helpers/packs.js';
import { hasOpenssl, makePki, type Pki } from '../helpers/pki.js';
import { WardenProcess, agentMetric, startAgentProcess } from '../helpers/processes.js';
import { ociToolsPresent, startRegistry, type Registry } from '../helpers/registry.js';
import { variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
// What Node reports when a server's chain does not lead to a trusted CA.
const UNTRUSTED = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/;

function context(): SourceContext {
  return {
    pack: 'app',
    log: createLogger('debug', new Writable({ write: (_c, _e, cb) => cb() })),
    metrics: new WardenMetrics({ defaultMetrics: false }),
    onConfirmed: () => undefined,
    onFetchError: () => undefined,
  };
}

const signed = async (pack: Buffer): Promise<Buffer> =>
  Buffer.from(JSON.stringify(await signPack(pack, key.privateKey)));

async function version(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200);
  return ((await res.json()) as { result: number }).result;
}

/** One HTTPS server and how a source and an agent reach it. */
interface Remote {
  publish(n: number): Promise<void>;
  source(ca: Buffer | undefined): PackSource;
  /** The lines under `source:` (6-space indented), with or without `ca_file`. */
  sourceLines(caFile: string | undefined): string[];
}

const POLL = [
  '        poll_min_seconds: 0.05',
  '        poll_max_seconds: 0.1',
  '        timeout_seconds: 2',
  '        backoff_max_seconds: 0.5',
];

// The shared checks: the source with and without the CA, then an agent with and without it.
function tlsContract(
  name: string,
  skip: string | false,
  setUp: (pki: Pki, dir: string) => Promise<Remote>,
  tearDown: () => Promise<void>,
): void {
  describe(`${name} source over HTTPS with a private CA (ca_file)`, { skip }, () => {
    const dir = tempDir();
    let pki: Pki;
    let remote: Remote;
    before(async () => {
      pki = makePki();
      remote = await setUp(pki, dir);
      await remote.publish(1);
      await writeFile(join(dir, 'policy.pub'), key.publicPem);
    });
    after(async () => {
      await WardenProcess.killAll();
      await tearDown();
    });

    it('fetches with the CA; without it the fetch is FETCH_FAILED (certificate not trusted) and nothing is handed over', async () => {
      const updates: PackUpdate[] = [];
      const handler = (u: PackUpdate): Promise<UpdateOutcome> => {
        updates.push(u);
        return Promise.resolve({ status: 'activated', digest: 'd' });
      };
      const trusting = remote.source(pki.ca);
      assert.equal((await trusting.fetchOnce(handler))?.status, 'activated');
      assert.ok(updates[0]?.signature, 'the signature came over the same TLS settings');
      await trusting.stop();
      const distrusting = remote.source(undefined);
      const err = await rejectsCode(distrusting.fetchOnce(handler), 'FETCH_FAILED');
      assert.match(String(err.details?.system_code), UNTRUSTED, err.message);
      await distrusting.stop();
      assert.equal(updates.length, 1);
    });

    it('an agent restarted without the CA keeps serving its stored pack, stale, with the TLS failure reported', async () => {
      const agentDir = join(dir, 'agent');
      await mkdir(agentDir, { recursive: true });
      const config = join(agentDir, 'agent.yaml');
      const write = (caFile: string | undefined): Promise<void> =>
        writeFile(
          config,
          [
            'listen: 127.0.0.1:0',
            `data_dir: ${join(agentDir, 'data')}`,
            'packs:',
            '  - name: app',
            '    source:',
            ...remote.sourceLines(caFile),
            ...POLL,
            '    verify:',
            `      public_keys: [${join(dir, 'policy.pub')}]`,
          ].join('\n'),
        );
      await write(pki.path('ca.pem'));
      const first = await startAgentProcess(config);
      assert.equal(await version(first.url), 1);
      await first.proc.stop();
      await remote.publish(2);
      await write(undefined);
      const again = await startAgentProcess(config);
      assert.equal(await version(again.url), 1, 'the stored pack answers; v2 is out of reach');
      // The boot does not wait for a source that fails when a stored pack is there: the failure is reported as it comes.
      let health: { packs: { app: { stale?: boolean; last_error?: { code: string } } } } | undefined;
      await eventually(
        async () => {
          health = (await (await fetch(`${again.url}/healthz`)).json()) as typeof health;
          return health?.packs.app.last_error !== undefined;
        },
        { what: 'the fetch failure in /healthz' },
      );
      assert.equal(health?.packs.app.last_error?.code, 'FETCH_FAILED', JSON.stringify(health));
      assert.equal(health?.packs.app.stale, true);
      assert.ok((await agentMetric(again.url, 'policy_fetch_failure_total', 'code="FETCH_FAILED"')) >= 1);
      assert.equal(await version(again.url), 1);
      await again.proc.stop();
    });
  });
}

let registry: Registry | undefined;
tlsContract(
  'oci',
  !hasOpenssl
    ? 'openssl is not on PATH'
    : ociToolsPresent()
      ? false
      : 'registry missing: node scripts/install-tools.mjs registry',
  async (pki) => {
    const r = await startRegistry({
      tls: { certFile: pki.path('server.pem'), keyFile: pki.path('server.key'), ca: pki.ca },
    });
    registry = r;
    const ref = `${r.host}/policy/app:live`;
    return {
      publish: async (n) => {
        const client = new OciClient({
          ref: parseOciReference(ref),
          credentials: { kind: 'anonymous' },
          ca: pki.ca,
          timeoutMs: 5000,
          push: true,
        });
        try {
          const pack = await variant(n);
          await pushPack(client, 'live', pack, 'app.tar.gz', await signed(pack));
        } finally {
          await client.close();
        }
      },
      source: (ca) =>
        new OciSource(
          {
            ref: parseOciReference(ref),
            credentials: { kind: 'anonymous' },
            insecureHttp: false,
            ...(ca ? { ca } : {}),
            pollMinSeconds: 1,
            pollMaxSeconds: 2,
            timeoutSeconds: 5,
            maxBytes: 1024 * 1024,
          },
          context(),
        ),
      sourceLines: (caFile) => [
        '      oci:',
        `        reference: ${ref}`,
        ...(caFile ? [`        ca_file: ${caFile}`] : []),
      ],
    };
  },
  async () => registry?.stop(),
);

let minio: MinioServer | undefined;
tlsContract(
  's3',
  hasOpenssl ? false : 'openssl is not on PATH',
  async (pki, dir) => {
    const m = await MinioServer.start({ tls: pki });
    minio = m;
    await m.createBucket('packs');
    const files = await m.credentialFiles(dir);
    return {
      publish: async (n) => {
        const pack = await variant(n);
        await m.publish('packs', 'app.tar.gz', pack, await signed(pack));
      },
      source: (ca) =>
        new S3Source(
          {
            endpoint: m.endpoint,
            region: m.region,
            forcePathStyle: true,
            bucket: 'packs',
            key: 'app.tar.gz',
            credentials: files,
            ...(ca ? { ca } : {}),
            pollMinSeconds: 1,
            pollMaxSeconds: 2,
            timeoutSeconds: 5,
            maxBytes: 1024 * 1024,
          },
          context(),
        ),
      sourceLines: (caFile) => [
        '      s3:',
        `        endpoint: ${m.endpoint}`,
        '        bucket: packs',
        '        key: app.tar.gz',
        `        region: ${m.region}`,
        '        force_path_style: true',
        '        credentials:',
        `          access_key_id_file: ${files.accessKeyIdFile}`,
        `          secret_access_key_file: ${files.secretAccessKeyFile}`,
        ...(caFile ? [`        ca_file: ${caFile}`] : []),
      ],
    };
  },
  async () => minio?.close(),
);
