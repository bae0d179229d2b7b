/**
 * Governance fixtures: the example governance and kill-switch packs built
 * once with the real opa, versions of them with other data re-packed without
 * another build (as variants.ts does), and agent configurations using them.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPack } from '../../src/pack/build.js';
import { GOLDEN_PATH, MANIFEST_PATH } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
export const GOVERNANCE_DIR = join(examples, 'governance');
export const KILLSWITCH_DIR = join(examples, 'killswitch');

/** A kill-switch state: module → switch. */
export type Switches = Record<string, { active: boolean; reason?: string }>;

const built = new Map<string, Promise<ReadonlyMap<string, Buffer>>>();

// The files of an example pack, built once per process.
function filesOf(dir: string): Promise<ReadonlyMap<string, Buffer>> {
  let files = built.get(dir);
  if (!files) {
    files = buildPack({ dir, sequence: 1, now: new Date('2026-11-22T00:00:00Z') }).then((b) => readPack(b.bytes));
    built.set(dir, files);
  }
  return files;
}

// The example pack re-packed with `data` and marker sequence `sequence`.
async function repack(
  dir: string,
  sequence: number,
  data: (current: Record<string, unknown>) => unknown,
): Promise<Buffer> {
  const files = new Map(await filesOf(dir));
  const manifest = JSON.parse((files.get(MANIFEST_PATH) ?? Buffer.from('{}')).toString()) as {
    revision: string;
    metadata: { warden: { sequence: number } };
  };
  manifest.revision = `v${sequence}`;
  manifest.metadata.warden.sequence = sequence;
  files.set(MANIFEST_PATH, Buffer.from(JSON.stringify(manifest)));
  const current = JSON.parse((files.get('data.json') ?? Buffer.from('{}')).toString()) as Record<string, unknown>;
  files.set('data.json', Buffer.from(JSON.stringify(data(current))));
  files.delete(GOLDEN_PATH); // the example's golden cases pin the example's data
  return writeTarGz([...files].map(([path, bytes]) => ({ path, data: bytes })));
}

/** The example governance pack re-packed at `sequence` with its data changed by `edit` (and without its golden cases). */
export async function governancePack(sequence = 1, edit?: (data: GovernanceData) => void): Promise<Buffer> {
  return repack(GOVERNANCE_DIR, sequence, (current) => {
    const data = structuredClone(current) as unknown as GovernanceData;
    edit?.(data);
    return data;
  });
}

/** The kill-switch pack at `sequence` holding `switches` (without the example's golden cases). */
export function killSwitchPack(sequence: number, switches: Switches): Promise<Buffer> {
  return repack(KILLSWITCH_DIR, sequence, () => ({ killswitch: { modules: switches } }));
}

/** The parts of the example's data.json tests change. */
export interface GovernanceData {
  governance: {
    tenants: Record<string, { status: string; modules: string[]; consents: string[] }>;
    module_catalog: Record<string, { risk: string; actions: string[]; purposes?: string[] }>;
  };
}

/** A context the example allows: acme reads an invoice in billing (a core module). */
export const ALLOW_CORE = Object.freeze({
  tenant: 'acme',
  subject: 'alice',
  module: 'billing',
  action: 'read',
  resource: 'acme/invoices/1',
});
/** A context the example allows on a high-risk module: acme invokes ai_inference for fraud detection. */
export const ALLOW_AI = Object.freeze({
  tenant: 'acme',
  subject: 'svc-fraud',
  module: 'ai_inference',
  action: 'invoke',
  resource: 'acme/tx/9',
  purpose: 'fraud_detection',
});
/** A context the example denies: acme reads globex's resource without consent. */
export const DENY = Object.freeze({
  tenant: 'acme',
  subject: 'svc-reco',
  module: 'ai_inference',
  action: 'invoke',
  resource: 'globex/users/7',
  purpose: 'personalisation',
});

/**
 * An agent configuration over `packs/governance.tar.gz` (signed, checked by
 * `policy.pub`, polled every 50 ms) with a `governance:` block; `killSwitchSource`
 * is the flow-style `source:` of the kill-switch pack (none: no kill switches);
 * `packs` lines are more `packs:` entries (after governance); `extra` lines go at the end.
 */
export function governanceYaml(
  opts: {
    dataDir?: string | undefined;
    evidence?: string | undefined;
    strict?: boolean | undefined;
    killSwitchSource?: string | undefined;
    packs?: readonly string[] | undefined;
    extra?: readonly string[] | undefined;
  } = {},
): string {
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${opts.dataDir ?? 'data'}`,
    'log_level: info',
    'packs:',
    '  - name: governance',
    '    source: { file: { path: packs/governance.tar.gz, poll_seconds: 0.05 } }',
    '    verify: { public_keys: [policy.pub] }',
    ...(opts.packs ?? []),
    'governance:',
    '  pack: governance',
    `  evidence: { dir: ${opts.evidence ?? 'evidence'}, strict: ${opts.strict === true} }`,
    ...(opts.killSwitchSource
      ? ['  kill_switches:', `    source: ${opts.killSwitchSource}`, '    verify: { public_keys: [policy.pub] }']
      : []),
    ...(opts.extra ?? []),
  ].join('\n');
}

/**
 * Copies the example governance and kill-switch packs into `dir` and returns an
 * agent configuration over them (directory sources, unsigned, log level silent);
 * `tenants` is the flow-style `governance.tenants` value (none: no tenant
 * verification), `packs` lines are more `packs:` entries, `extra` lines go at the end.
 */
export async function exampleGovernanceYaml(
  dir: string,
  opts: {
    tenants?: string | undefined;
    /** The flow-style `governance.budget` value (none: no budget). */
    budget?: string | undefined;
    extra?: readonly string[] | undefined;
    packs?: readonly string[] | undefined;
  } = {},
): Promise<string> {
  await cp(GOVERNANCE_DIR, join(dir, 'governance'), { recursive: true });
  await cp(KILLSWITCH_DIR, join(dir, 'killswitch'), { recursive: true });
  return [
    'listen: 127.0.0.1:0',
    'data_dir: data',
    'log_level: silent',
    'packs:',
    '  - name: governance',
    '    source: { directory: { path: governance } }',
    '    verify: { unsigned: true }',
    ...(opts.packs ?? []),
    'governance:',
    '  pack: governance',
    '  evidence: { dir: evidence }',
    '  kill_switches:',
    '    source: { directory: { path: killswitch } }',
    '    verify: { unsigned: true }',
    ...(opts.tenants === undefined ? [] : [`  tenants: ${opts.tenants}`]),
    ...(opts.budget === undefined ? [] : [`  budget: ${opts.budget}`]),
    ...(opts.extra ?? []),
  ].join('\n');
}
