/**
 * Every path of OPA's data API, against the real `opa run --server` on the same
 * packs (a Warden pack is an OPA bundle; OPA serves the three at once, as the
 * agent does): declared entrypoints, undeclared and undefined rules, package
 * and parent paths, base documents from data.json, paths no pack owns and
 * `/v1/data` itself, each by POST and GET, with and without input. Status and
 * canonical body must match (Warden's decision_id aside), on an agent that
 * evaluates on its own thread (decision_workers: 0) and on one with the
 * default decision workers.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import { tempDir } from '../helpers/fs.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';
import { buildFrom, signedFilePack } from '../helpers/packs.js';
import { buildExample, buildPathsPack, PATHS_INPUT, withoutWasm } from '../helpers/paths-pack.js';

const AUTHZ_INPUT =
  '{"user":{"name":"vic","roles":["viewer"],"tenant":"acme"},"action":"delete","resource":{"tenant":"acme"}}';

/** Paths (after /v1/data) and the input each is asked with. */
const PATHS: ReadonlyArray<readonly [string, string]> = [
  // declared entrypoints
  ['/shop/orders/allow', PATHS_INPUT],
  ['/authz/allow', AUTHZ_INPUT],
  ['/authz/reasons', AUTHZ_INPUT],
  // undeclared rules, walked into, undefined
  ['/shop/orders/total', PATHS_INPUT],
  ['/shop/orders/big', PATHS_INPUT],
  ['/shop/orders/dec', PATHS_INPUT],
  ['/shop/orders/echo', PATHS_INPUT],
  ['/shop/orders/echo/n', PATHS_INPUT],
  ['/shop/orders/echo/items/1', PATHS_INPUT],
  ['/shop/orders/echo/items/7', PATHS_INPUT],
  ['/shop/orders/s', PATHS_INPUT],
  ['/shop/users/admins', PATHS_INPUT],
  ['/shop/orders/nope', PATHS_INPUT],
  ['/shop/orders/missing', PATHS_INPUT],
  ['/authz/nope', AUTHZ_INPUT],
  // packages and parents
  ['/shop/orders', PATHS_INPUT],
  ['/shop/users', PATHS_INPUT],
  ['/shop', PATHS_INPUT],
  ['/authz', AUTHZ_INPUT],
  ['/priority', '{"severity":"critical","environment":"production"}'],
  ['/labels', '{}'],
  // base documents
  ['/shop/orders/limit', PATHS_INPUT],
  ['/shop/orders/limits', PATHS_INPUT],
  ['/shop/orders/limits/2', PATHS_INPUT],
  ['/shop/staff/0/name', PATHS_INPUT],
  ['/catalog', PATHS_INPUT],
  ['/catalog/items/a/price', PATHS_INPUT],
  ['/catalog/items/b', PATHS_INPUT],
  ['/authz/roles/admin', AUTHZ_INPUT],
  // owned by no pack, and the whole document
  ['/nobody', PATHS_INPUT],
  ['/nobody/here', PATHS_INPUT],
  ['', PATHS_INPUT],
];

interface Asked {
  readonly status: number;
  readonly body: string;
}

// Status and canonical body; the decision id Warden adds is dropped, an error's body too (the codes differ).
async function ask(url: string, init?: RequestInit): Promise<Asked> {
  const res = await fetch(url, init);
  const text = (await res.text()).replace(/,?"decision_id":"[^"]*"/, '').replace('{,', '{');
  return res.status >= 400 ? { status: res.status, body: '' } : { status: res.status, body: canonicalJson(text) };
}

// The four ways of asking one path.
function calls(base: string, path: string, input: string): Array<readonly [string, () => Promise<Asked>]> {
  const url = `${base}/v1/data${path}`;
  const json = { 'content-type': 'application/json' };
  return [
    [`POST ${path} with input`, () => ask(url, { method: 'POST', body: `{"input":${input}}`, headers: json })],
    [`POST ${path} without input`, () => ask(url, { method: 'POST' })],
    [`GET ${path}?input=`, () => ask(`${url}?input=${encodeURIComponent(input)}`)],
    [`GET ${path}`, () => ask(url)],
  ];
}

describe('data paths: Warden against opa run --server on the same packs', () => {
  const agents: Array<[string, RunningAgent]> = [];
  // OPA on the packs' Rego and data (the reference), and on the packs as built (policy.wasm in).
  let opa: OpaServer;
  let opaWasm: OpaServer;

  before(async () => {
    const dir = tempDir();
    const packs = [
      ['shop', await buildPathsPack()],
      ['authz', await buildExample('authz')],
      ['signalprocessing', await buildExample('signalprocessing')],
    ] as const;
    const entries: string[] = [];
    for (const [name, built] of packs) {
      entries.push(...(await signedFilePack(dir, name, built.bytes)));
      await writeFile(join(dir, `${name}.rego.tar.gz`), await withoutWasm(built.bytes));
    }
    opa = await startOpaServer(packs.flatMap(([name]) => ['-b', join(dir, `${name}.rego.tar.gz`)]));
    opaWasm = await startOpaServer(packs.flatMap(([name]) => ['-b', join(dir, `${name}.tar.gz`)]));
    for (const workers of ['0', 'default']) {
      const config = [
        'listen: 127.0.0.1:0',
        `data_dir: data-${workers}`,
        ...(workers === 'default' ? [] : [`decision_workers: ${workers}`]),
        'packs:',
        ...entries,
      ];
      const agent = await startAgent(parseConfig(config.join('\n'), join(dir, 'agent.yaml')), createLogger('silent'));
      agents.push([`decision_workers ${workers}`, agent]);
    }
  });

  after(async () => {
    for (const [, agent] of agents) await agent.close();
    await opa?.stop();
    await opaWasm?.stop();
  });

  it('answers every path with the status and body OPA gives', async () => {
    const differences: string[] = [];
    for (const [path, input] of PATHS) {
      for (const [what, asked] of calls(opa.url, path, input)) {
        const expected = await asked();
        for (const [label, agent] of agents) {
          const call = calls(agent.url, path, input).find(([w]) => w === what);
          const got = await call?.[1]();
          if (JSON.stringify(got) !== JSON.stringify(expected)) {
            differences.push(
              `${label}: ${what}\n  warden ${JSON.stringify(got)}\n  opa    ${JSON.stringify(expected)}`,
            );
          }
        }
      }
    }
    assert.deepEqual(differences, []);
  });

  it('answers undefined where OPA type-checks the path, and walks a set as the array it is written as', async () => {
    // OPA's type checker refuses (500 rego_type_error) a path into a rule it knows is a scalar, or naming
    // a function; Warden walks the value and finds nothing. A numeric segment into a set is a membership
    // test for OPA (`s/1` → 1 when 1 is in s); Warden walks the set's JSON array by index.
    const [, agent] = agents[0] ?? assert.fail('no agent');
    const both = async (path: string): Promise<[Asked, Asked]> => [
      await ask(`${agent.url}/v1/data${path}?input=${encodeURIComponent(PATHS_INPUT)}`),
      await ask(`${opa.url}/v1/data${path}?input=${encodeURIComponent(PATHS_INPUT)}`),
    ];
    assert.deepEqual(await both('/shop/orders/allow/deeper'), [
      { status: 200, body: '{}' },
      { status: 500, body: '' },
    ]);
    assert.deepEqual(await both('/shop/orders/f'), [
      { status: 200, body: '{}' },
      { status: 500, body: '' },
    ]);
    assert.deepEqual(await both('/shop/orders/s/1'), [
      { status: 200, body: '{"result":2}' },
      { status: 200, body: '{"result":1}' },
    ]);
  });

  it('differs from OPA serving the packs with their policy.wasm only where OPA leaves base documents out of package objects', async () => {
    // Observed with opa 1.22: a bundle carrying a wasm module answers package and parent paths
    // without data.json's base documents (walked down to one, it answers it). Warden answers these
    // paths as OPA does for the same Rego and data without the module, merged as Rego defines them.
    const same: string[] = [];
    const differ: string[] = [];
    for (const [path, input] of PATHS) {
      const [what, asked] = calls(opaWasm.url, path, input)[0] ?? assert.fail('no call');
      const [, agent] = agents[0] ?? assert.fail('no agent');
      const withWasm = await asked();
      const reference = await calls(opa.url, path, input)[0]?.[1]();
      const warden = await calls(agent.url, path, input)[0]?.[1]();
      assert.deepEqual(warden, reference, what);
      (JSON.stringify(withWasm) === JSON.stringify(reference) ? same : differ).push(path);
    }
    assert.deepEqual(differ, ['/shop/orders', '/shop', '/authz', '']);
    assert.ok(same.includes('/shop/orders/limit') && same.includes('/catalog'));
  });

  it('keeps a declared entrypoint on its exact-match route and names the pack; a merged parent names every pack', async () => {
    const [, agent] = agents[0] ?? assert.fail('no agent');
    const declared = await fetch(`${agent.url}/v1/data/authz/allow`, { method: 'POST' });
    assert.equal(declared.headers.get('x-warden-pack'), 'authz');
    const whole = await fetch(`${agent.url}/v1/data`, { method: 'POST' });
    assert.equal(whole.headers.get('x-warden-pack'), 'shop,authz,signalprocessing');
  });

  it('answers only declared entrypoints of a pack built without path entrypoints, and says to rebuild it', async () => {
    const dir = tempDir();
    const built = await buildFrom(
      {
        'warden.yaml': 'name: old\nentrypoints: [old/allow]\n',
        'old.rego': 'package old\nallow := true\nother := 1\n',
      },
      { pathEntrypoints: false },
    );
    assert.deepEqual(built.paths, []);
    const entry = await signedFilePack(dir, 'old', built.bytes);
    const config = ['listen: 127.0.0.1:0', 'data_dir: data', 'decision_workers: 0', 'packs:', ...entry].join('\n');
    const agent = await startAgent(parseConfig(config, join(dir, 'agent.yaml')), createLogger('silent'));
    try {
      const ok = (await (await fetch(`${agent.url}/v1/data/old/allow`, { method: 'POST' })).json()) as {
        result: unknown;
      };
      assert.equal(ok.result, true);
      const res = await fetch(`${agent.url}/v1/data/old/other`, { method: 'POST' });
      assert.equal(res.status, 404);
      const body = (await res.json()) as { code: string; warden_code: string; message: string };
      assert.deepEqual([body.code, body.warden_code], ['undefined_document', 'DECISION_PATH_UNKNOWN']);
      assert.match(body.message, /rebuild/);
      const unowned = await fetch(`${agent.url}/v1/data/elsewhere`, { method: 'POST' });
      assert.equal(unowned.status, 200, 'a path outside its roots is still undefined');
    } finally {
      await agent.close();
    }
  });
});
