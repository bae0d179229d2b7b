/**
 * One pack-name rule and one set of limit defaults: the configuration,
 * warden.yaml and the store accept and refuse the same names, and the
 * configuration's limit defaults are the pack reader's.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isWardenError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_PACK_LIMITS } from '../../src/pack/limits.js';
import { isPackName } from '../../src/pack/name.js';
import { packSpecFrom } from '../../src/pack/spec.js';
import { PackStore } from '../../src/store/store.js';
import { tempDir } from '../helpers/fs.js';

const NAMES: [name: string, valid: boolean][] = [
  ['app', true],
  ['a.b_c-1', true],
  ['0x', true],
  ['a'.repeat(63), true],
  ['a'.repeat(64), false],
  ['App', false],
  ['-app', false],
  ['.hidden', false],
  ['a/b', false],
  ['', false],
];

const config = (name: string): string =>
  `packs:\n  - name: "${name}"\n    source: { file: { path: a.tar.gz } }\n    verify: { public_keys: [k.pub] }\n`;

describe('pack names and limits', () => {
  it('accepts and refuses the same names in the configuration, warden.yaml and the store', async () => {
    const store = await PackStore.open(join(tempDir(), 'data'), { historyLimit: 3 });
    try {
      for (const [name, valid] of NAMES) {
        assert.equal(isPackName(name), valid, name);
        const inConfig = (() => {
          try {
            parseConfig(config(name), '/x/agent.yaml');
            return true;
          } catch {
            return false;
          }
        })();
        assert.equal(inConfig, valid, `config: ${name}`);
        const inSpec = (() => {
          try {
            packSpecFrom({ name, entrypoints: ['app/allow'] }, 'warden.yaml');
            return true;
          } catch {
            return false;
          }
        })();
        assert.equal(inSpec, valid, `warden.yaml: ${name}`);
        const inStore = await store.state(name).then(
          () => true,
          (err: unknown) => !isWardenError(err, 'USAGE'),
        );
        assert.equal(inStore, valid, `store: ${name}`);
      }
    } finally {
      await store.close();
    }
  });

  it("takes the configuration's limit defaults from the pack reader's", () => {
    const { limits } = parseConfig(config('app'), '/x/agent.yaml');
    const d = DEFAULT_PACK_LIMITS;
    assert.deepEqual(
      [limits.max_pack_bytes, limits.max_uncompressed_bytes, limits.max_files, limits.max_file_bytes],
      [d.maxCompressedBytes, d.maxUncompressedBytes, d.maxFiles, d.maxFileBytes],
    );
  });
});
