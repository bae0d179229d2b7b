/**
 * A pack for the data-path tests: nested packages (shop.orders, shop.users),
 * declared and undeclared rules, an undefined rule, a set, a function, exact
 * numbers, and base documents from data.json both inside a package's path and
 * outside any package (`catalog`). Roots: catalog, shop.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPack, type BuiltPack } from '../../src/pack/build.js';
import { MANIFEST_PATH } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { buildFrom } from './packs.js';

export const PATHS_PACK: Record<string, string> = {
  'warden.yaml': 'name: shop\nentrypoints: [shop/orders/allow]\n',
  'orders.rego': [
    'package shop.orders',
    '',
    'default allow := false',
    'allow if input.user in data.shop.users.admins',
    'total := count(input.items)',
    'big := 12345678901234567891',
    'dec := 1.0',
    'echo := input',
    'nope if input.never == "set"',
    's contains x if some x in [3, 1, 2]',
    'f(x) := x + 1',
    'clash := 1 if input.clash',
    'clash := 2 if input.clash',
    '',
  ].join('\n'),
  'users.rego': [
    'package shop.users',
    '',
    'admins contains u.name if {',
    '  some u in data.shop.staff',
    '  u.admin',
    '}',
    '',
  ].join('\n'),
  'data.json': JSON.stringify({
    shop: {
      orders: { limit: 10 },
      staff: [
        { name: 'alice', admin: true },
        { name: 'bob', admin: false },
      ],
    },
    catalog: { items: { a: { price: 1.25, sku: 'A-1' } } },
  })
    .replace('1.25', '1.250')
    .replace('"limit":10', '"limit":10,"limits":[1,2.50,12345678901234567891]'),
};

/** An input the paths are asked with: a big integer, a decimal written with a trailing zero. */
export const PATHS_INPUT = '{"user":"alice","items":[1,2],"n":12345678901234567891,"d":1.0}';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

/** The examples/<name> folder built into a pack. */
export function buildExample(name: string, sequence = 1): Promise<BuiltPack> {
  return buildPack({ dir: join(EXAMPLES, name), sequence, now: new Date('2026-11-22T00:00:00Z') });
}

/**
 * The pack as OPA serves a plain bundle of its Rego and data: policy.wasm and the manifest's
 * wasm list taken out. (With them, `opa run --server` leaves data.json's base documents out of
 * package and parent objects; see opa-paths.test.ts.)
 */
export async function withoutWasm(pack: Uint8Array): Promise<Buffer> {
  const files = await readPack(Buffer.from(pack), {});
  const entries = [...files]
    .filter(([path]) => path !== 'policy.wasm')
    .map(([path, data]) => {
      if (path !== MANIFEST_PATH) return { path, data };
      const { wasm: _wasm, ...manifest } = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      return { path, data: Buffer.from(JSON.stringify(manifest)) };
    });
  return writeTarGz(entries);
}

/** The paths pack built (opts as buildFrom's). */
export function buildPathsPack(): Promise<BuiltPack> {
  return buildFrom(PATHS_PACK);
}
