import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { opaBundleOf } from '../../src/opa-engine/bundle-of.js';
import { readPack } from '../../src/pack/reader.js';
import { buildFrom, simplePolicy } from '../helpers/packs.js';

describe('opaBundleOf', () => {
  it('turns a built pack into a plain Rego bundle: no wasm, no wasm entries, no golden file', async () => {
    const pack = await buildFrom(simplePolicy());
    assert.ok(pack.files.has('policy.wasm') && pack.files.has('warden.golden.json'));
    const bundle = await readPack(opaBundleOf(pack.files, 'rev-7', ['simple']));
    assert.deepEqual([...bundle.keys()].sort(), ['.manifest', 'data.json', 'simple.rego']);
    const manifest = JSON.parse(bundle.get('.manifest')?.toString('utf8') ?? '{}') as Record<string, unknown>;
    assert.equal(manifest.revision, 'rev-7');
    assert.deepEqual(manifest.roots, ['simple']);
    assert.equal(manifest.wasm, undefined);
    assert.equal((manifest.metadata as { warden: { pack: string } }).warden.pack, 'simple');
    assert.equal(bundle.get('simple.rego')?.toString('utf8'), pack.files.get('simple.rego')?.toString('utf8'));
  });

  it('keeps a v0 pack v0 (rego_version in the manifest)', async () => {
    const files = new Map([['.manifest', Buffer.from('{"revision":"x","roots":[""],"rego_version":0,"wasm":[]}')]]);
    const bundle = await readPack(opaBundleOf(files, 'y', ['a']));
    assert.deepEqual(JSON.parse(bundle.get('.manifest')?.toString('utf8') ?? ''), {
      revision: 'y',
      roots: ['a'],
      rego_version: 0,
    });
  });
});
