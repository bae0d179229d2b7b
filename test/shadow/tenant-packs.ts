/**
 * The tenant pack of the shadow tests: `authz/allow` allows a role listed for the
 * input's tenant (`data.roles[tenant]`). Built once with the real opa; each version
 * is that build with another data.json and marker sequence, re-packed (the
 * policy's wasm does not change), so a candidate can flip one rule for one tenant.
 */
import { MANIFEST_PATH } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { buildFrom } from '../helpers/packs.js';

const POLICY = {
  'warden.yaml': 'name: authz\nentrypoints: [authz/allow]\n',
  'authz.rego': 'package authz\n\ndefault allow := false\n\nallow if input.role in data.roles[input.tenant]\n',
  'data.json': JSON.stringify({ roles: {} }),
};

/** Roles allowed per tenant in the base version: viewers of t2 are denied. */
export const BASE_ROLES = { t1: ['admin', 'viewer'], t2: ['admin'], t3: ['admin', 'viewer'] };
/** The candidate that flips one rule for one tenant: t2's viewers are allowed. */
export const FLIPPED_ROLES = { ...BASE_ROLES, t2: ['admin', 'viewer'] };

let base: Promise<ReadonlyMap<string, Buffer>> | undefined;

/** Pack bytes of the tenant pack with `roles`, revision `r<sequence>`, at marker `sequence`. */
export async function tenantPack(sequence: number, roles: Record<string, string[]>): Promise<Buffer> {
  base ??= buildFrom(POLICY).then((b) => readPack(b.bytes));
  const files = new Map(await base);
  const manifest = JSON.parse((files.get(MANIFEST_PATH) ?? Buffer.from('{}')).toString()) as {
    revision: string;
    metadata: { warden: { sequence: number } };
  };
  manifest.revision = `r${sequence}`;
  manifest.metadata.warden.sequence = sequence;
  files.set(MANIFEST_PATH, Buffer.from(JSON.stringify(manifest)));
  files.set('data.json', Buffer.from(JSON.stringify({ roles })));
  return writeTarGz([...files].map(([path, data]) => ({ path, data })));
}

/** The decisions of the tests: `n` rounds over every tenant and role. */
export function tenantInputs(n: number): Array<{ tenant: string; role: string; user: string }> {
  const out: Array<{ tenant: string; role: string; user: string }> = [];
  for (let i = 0; i < n; i++)
    for (const tenant of ['t1', 't2', 't3'])
      for (const role of ['admin', 'viewer']) out.push({ tenant, role, user: `u${i}` });
  return out;
}
