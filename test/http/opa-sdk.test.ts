/**
 * The official OPA TypeScript SDK (@open-policy-agent/opa) as the judge: the
 * same client calls against the real `opa run --server` and against a Warden
 * agent on the same packs must give the same results. OPA serves the packs'
 * Rego and data (see opa-paths.test.ts for why not their policy.wasm).
 * Both engines are judged: the embedded wasm engine, and engine: opa (Warden
 * in front of a real OPA it supervises). Where the two still differ, the
 * difference is asserted here and listed in README.md's OPA compatibility table.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPAClient } from '@open-policy-agent/opa';
import { OpaApiClient } from '@open-policy-agent/opa/sdk/sdk.js';
import { SDKError, ServerError } from '@open-policy-agent/opa/sdk/models/errors';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';
import { signedFilePack } from '../helpers/packs.js';
import { buildExample, buildPathsPack, withoutWasm } from '../helpers/paths-pack.js';

const VIC = {
  user: { name: 'vic', roles: ['viewer'], tenant: 'acme' },
  action: 'delete',
  resource: { tenant: 'acme' },
};
const ADA = { user: { name: 'ada', roles: ['admin'] }, action: 'delete', resource: { tenant: 'acme' } };
const ALICE = { user: 'alice', items: [1, 2] };

for (const engine of ['wasm', 'opa'] as const)
  describe(`the OPA TypeScript SDK against opa run --server and against Warden (engine: ${engine})`, () => {
    let agent: RunningAgent;
    let opa: OpaServer;
    let clients: Array<[string, OPAClient]>;

    before(async () => {
      const dir = tempDir();
      const packs = [
        ['shop', await buildPathsPack()],
        ['authz', await buildExample('authz')],
      ] as const;
      const entries: string[] = [];
      for (const [name, built] of packs) {
        entries.push(...(await signedFilePack(dir, name, built.bytes)));
        await writeFile(join(dir, `${name}.rego.tar.gz`), await withoutWasm(built.bytes));
      }
      await writeFile(join(dir, 'opa.yaml'), 'default_decision: /authz/allow\n');
      opa = await startOpaServer([
        '-c',
        join(dir, 'opa.yaml'),
        ...packs.flatMap(([name]) => ['-b', join(dir, `${name}.rego.tar.gz`)]),
      ]);
      const config = [
        'listen: 127.0.0.1:0',
        'data_dir: data',
        'default_decision: /authz/allow',
        `engine: ${engine}`,
        // A loaded machine must not turn OPA's slow answer into OPA_DECISION_TIMEOUT here.
        ...(engine === 'opa' ? ['opa: { decision_timeout_ms: 5000 }'] : []),
        'packs:',
        ...entries,
      ];
      agent = await startAgent(parseConfig(config.join('\n'), join(dir, 'agent.yaml')), createLogger('silent'));
      clients = [
        ['opa', new OPAClient(opa.url)],
        ['warden', new OPAClient(agent.url)],
      ];
    });

    after(async () => {
      await agent?.close();
      await opa?.stop();
    });

    // The same call on both servers: [opa's, warden's] results.
    async function both<T>(call: (c: OPAClient) => Promise<T>): Promise<[T, T]> {
      const out: T[] = [];
      for (const [, client] of clients) out.push(await call(client));
      return [out[0] as T, out[1] as T];
    }

    it('evaluate: declared entrypoints and undeclared rules, with and without input', async () => {
      for (const [path, input] of [
        ['authz/allow', VIC],
        ['authz/allow', ADA],
        ['authz/reasons', VIC],
        ['shop/orders/allow', ALICE],
        ['shop/orders/total', ALICE],
        ['shop/orders/echo', ALICE],
        ['shop/users/admins', undefined],
        ['shop/orders/allow', undefined],
        ['shop/orders/dec', undefined],
      ] as const) {
        const [o, w] = await both((c) => c.evaluate(path, input));
        assert.deepEqual(w, o, `${path} ${JSON.stringify(input)}`);
        assert.notEqual(o, undefined, `${path} is defined`);
      }
    });

    it('evaluate: package, parent and data paths', async () => {
      for (const path of ['authz', 'shop/orders', 'shop/users', 'shop', 'catalog', 'catalog/items/a', 'authz/roles']) {
        const [o, w] = await both((c) => c.evaluate(path, ALICE));
        assert.deepEqual(w, o, path);
        assert.equal(typeof o, 'object', `${path} is an object`);
      }
    });

    it('evaluate: an undefined rule, and a path no pack owns, are undefined in both', async () => {
      for (const path of ['authz/nope', 'shop/orders/nope', 'nobody/here']) {
        assert.deepEqual(await both((c) => c.evaluate(path, VIC)), [undefined, undefined], path);
      }
    });

    it("evaluateDefault: the configured default decision (OPA's default_decision, Warden's)", async () => {
      assert.deepEqual(await both((c) => c.evaluateDefault(ADA)), [true, true]);
      // The SDK treats a falsy result as none ("no result in API response"): the same for both servers.
      for (const [name, client] of clients) {
        await assert.rejects(client.evaluateDefault(VIC), (err: unknown) => err === 'no result in API response', name);
      }
    });

    it('health: both are healthy, with and without bundles', async () => {
      for (const bundles of [false, true]) {
        const statuses: number[] = [];
        for (const url of [opa.url, agent.url]) {
          const res = await new OpaApiClient({ serverURL: url }).health(bundles);
          statuses.push(res.httpMeta.response.status);
          assert.ok(res.healthyServer, `${url} healthy (bundles: ${bundles})`);
        }
        assert.deepEqual(statuses, [200, 200]);
      }
    });

    it('evaluateBatch: neither has the batch API (Enterprise-only); with fallback the SDK asks one input at a time', async () => {
      const inputs = { vic: VIC, ada: ADA };
      const [o, w] = await both((c) => c.evaluateBatch('authz/allow', inputs, { fallback: true }));
      assert.deepEqual(w, o);
      assert.deepEqual(o, { vic: false, ada: true });
      for (const [name, url] of [
        ['opa', opa.url],
        ['warden', agent.url],
      ]) {
        // A fresh client: the fallback is remembered per client.
        await assert.rejects(
          new OPAClient(url ?? '').evaluateBatch('authz/allow', inputs),
          (err: unknown) => err instanceof SDKError && err.httpMeta.response.status === 404,
          `${name} has no batch endpoint`,
        );
      }
    });

    it("errors: a decision that fails is the SDK's ServerError with OPA's code in both", async () => {
      const codes: string[] = [];
      for (const [name, client] of clients) {
        await assert.rejects(client.evaluate('shop/orders/clash', { clash: true }), (err: unknown) => {
          assert.ok(err instanceof ServerError, `${name}: ${String(err)}`);
          codes.push(err.code);
          return true;
        });
      }
      // Warden's own code is beside it, in warden_code (docs/http-api.md#errors-on-opas-routes).
      assert.deepEqual(codes, ['internal_error', 'internal_error']);
    });
  });
