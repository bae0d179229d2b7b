/**
 * A policy that calls a builtin the embedded engine lacks is refused before any
 * decision can reach it: at `warden pack build`, and at activation for a pack
 * whose wasm was built elsewhere — with PACK_BUILTIN_UNSUPPORTED naming each one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prepareCandidate } from '../../src/activate/prepare.js';
import { HOST_BUILTINS } from '../../src/engine/builtins.js';
import { opaBuildWasm } from '../../src/opa/compile.js';
import { locateOpa } from '../../src/opa/locate.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { buildFrom } from '../helpers/packs.js';

const CLOCK = {
  'warden.yaml': 'name: clock\nentrypoints: [clock/fresh, clock/v]\n',
  'clock.rego': [
    'package clock',
    'import rego.v1',
    'default fresh := false',
    'fresh if time.now_ns() - input.issued_ns < 60000000000',
    'v := [http.send({"method": "get", "url": input.url}).body, net.lookup_ip_addr(input.host)]',
    '',
  ].join('\n'),
};

describe('builtins the embedded engine lacks', () => {
  it('refuses the build (warden pack build), naming each missing builtin, and lists what the engine provides', async () => {
    const err = await rejectsCode(buildFrom(CLOCK), 'PACK_BUILTIN_UNSUPPORTED');
    // time.now_ns is provided (host-builtins/); http.send and net.lookup_ip_addr are not.
    assert.deepEqual(err.details.builtins, ['http.send', 'net.lookup_ip_addr']);
    assert.match(err.message, /the builtins http\.send, net\.lookup_ip_addr, which the policy calls/);
    assert.match(err.message, /`engine: opa`/);
    assert.deepEqual(err.details.provided, [...HOST_BUILTINS].sort());
    assert.ok(HOST_BUILTINS.has('sprintf'), 'opa-wasm provides sprintf in JavaScript');
    assert.ok(
      ['time.now_ns', 'semver.compare', 'time.parse_ns', 'uuid.rfc4122', 'urlquery.encode', 'crypto.sha256'].every(
        (b) => HOST_BUILTINS.has(b),
      ),
      'Warden provides these',
    );
  });

  it('refuses at activation a pack whose policy.wasm, built elsewhere, imports one', async () => {
    // A good pack, then its wasm swapped for one opa built from the clock policy with the same entrypoints.
    const good = await buildFrom({
      'warden.yaml': 'name: clock\nentrypoints: [clock/fresh, clock/v]\n',
      'clock.rego': 'package clock\nimport rego.v1\ndefault fresh := false\nv := 1\n',
    });
    const dir = await writeTree(tempDir(), { 'clock.rego': CLOCK['clock.rego'] });
    const bundle = await opaBuildWasm(locateOpa().path, dir, ['clock/fresh', 'clock/v'], 'v1');
    const wasm = (await readPack(bundle, {}, { opaOutput: true })).get('policy.wasm');
    assert.ok(wasm);
    const files = new Map(await readPack(good.bytes));
    files.set('policy.wasm', Buffer.from(wasm));
    const pack = writeTarGz([...files].map(([path, data]) => ({ path, data })));
    const err = await rejectsCode(
      prepareCandidate('clock', pack, undefined, { kind: 'unsigned' }, {}),
      'PACK_BUILTIN_UNSUPPORTED',
    );
    assert.deepEqual(err.details.builtins, ['http.send', 'net.lookup_ip_addr']);
  });
});
