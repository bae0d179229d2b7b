/**
 * Governance agents as the verdict benchmark uses them: the example governance
 * pack (examples/governance) and kill-switch state (examples/killswitch), both
 * directory sources (built by the agent with the real opa, `verify: unsigned`),
 * with the decision cache and the decision log switched per agent, tenants
 * verified against a JWKS file of a fresh ES256 key, and the contexts every
 * verdict measurement sends with the answers they must get.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import type { Governance } from '../../src/govern/verdict/governance.js';
import type { KillSwitches } from '../../src/govern/verdict/kill-switch.js';
import { createLogger } from '../../src/observe/logger.js';

export const GOVERNANCE_DIR = fileURLToPath(new URL('../../examples/governance/', import.meta.url));
export const KILLSWITCH_DIR = fileURLToPath(new URL('../../examples/killswitch/', import.meta.url));
export const VERDICT_ENTRYPOINT = 'governance/verdict';

/** One request context and the verdict the example packs must give it. */
export interface VerdictCase {
  readonly label: string;
  readonly context: Readonly<Record<string, string>>;
  readonly expect: 'allow' | 'deny' | 'blocked';
}

/** Allows: core modules and the high-risk ai_inference with an allowed, consented purpose. */
export const ALLOWS: readonly VerdictCase[] = [
  {
    label: 'acme reads an invoice (core)',
    context: {
      tenant: 'acme',
      subject: 'alice',
      module: 'billing',
      action: 'read',
      resource: 'acme/invoices/2024-001',
    },
    expect: 'allow',
  },
  {
    label: 'acme updates identity (core, purpose ignored)',
    context: { tenant: 'acme', subject: 'alice', module: 'identity', action: 'update', purpose: 'onboarding' },
    expect: 'allow',
  },
  {
    label: 'acme invokes ai_inference for fraud detection',
    context: {
      tenant: 'acme',
      subject: 'svc-fraud',
      module: 'ai_inference',
      action: 'invoke',
      resource: 'acme/transactions/981',
      purpose: 'fraud_detection',
    },
    expect: 'allow',
  },
  {
    label: 'globex exports a report (core)',
    context: { tenant: 'globex', subject: 'bob', module: 'reporting', action: 'export', resource: 'globex/reports/q3' },
    expect: 'allow',
  },
];

/** Policy denials, one reason each, on modules whose kill switch is off (the policy is evaluated). */
export const DENIES: readonly VerdictCase[] = [
  {
    label: 'unknown tenant',
    context: { tenant: 'umbrella', subject: 'alice', module: 'billing', action: 'read' },
    expect: 'deny',
  },
  {
    label: 'module not enabled',
    context: { tenant: 'acme', subject: 'alice', module: 'reporting', action: 'export' },
    expect: 'deny',
  },
  {
    label: 'resource of another tenant',
    context: { tenant: 'acme', subject: 'alice', module: 'billing', action: 'read', resource: 'globex/invoices/7' },
    expect: 'deny',
  },
  {
    label: 'purpose not consented (high risk)',
    context: {
      tenant: 'acme',
      subject: 'svc-reco',
      module: 'ai_inference',
      action: 'invoke',
      purpose: 'personalisation',
    },
    expect: 'deny',
  },
];

/** The mix of the latency measurements: allows and denials alternating. */
export const MIX: readonly VerdictCase[] = ALLOWS.flatMap((a, i) => [a, DENIES[i] as VerdictCase]);

/** A module the example kill-switch state switches off (ai_training: "training paused"). */
export const BLOCKED: VerdictCase = {
  label: 'ai_training, kill switch on',
  context: {
    tenant: 'globex',
    subject: 'ml-pipeline',
    module: 'ai_training',
    action: 'train',
    purpose: 'model_improvement',
  },
  expect: 'blocked',
};

/** A JWKS file of one fresh ES256 key and a valid token it verifies. */
export interface TenantKeys {
  readonly jwksPath: string;
  readonly issuer: string;
  readonly audience: string;
  /** A valid token for tenant `acme`, subject `alice`, good for two hours. */
  readonly token: string;
  readonly tenant: string;
}

/** Writes `<dir>/jwks.json` and signs a token with its key. */
export async function tenantKeys(dir: string): Promise<TenantKeys> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwksPath = join(dir, 'jwks.json');
  await writeFile(
    jwksPath,
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' }] }),
  );
  const issuer = 'https://idp.bench.test';
  const audience = 'warden-bench';
  const token = await new SignJWT({ tenant: 'acme' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return { jwksPath, issuer, audience, token, tenant: 'acme' };
}

/** How one benchmark agent is set up. */
export interface AgentShape {
  /** Folder of this agent's data_dir, evidence and decision log. */
  readonly dir: string;
  readonly cache: boolean;
  readonly decisionLog: boolean;
  /** With the decision log on: also ship it to this collector (`decision_log.service.url`), looking every 0.1–0.2 s once caught up. */
  readonly decisionLogService?: string;
  readonly tenants?: TenantKeys | undefined;
  /** `tenants.token_cache_seconds`: 0 verifies every token every time. */
  readonly tokenCacheSeconds?: number;
  readonly logLevel?: 'silent' | 'warn';
  /** The governance pack's folder; default examples/governance. */
  readonly governanceDir?: string;
  /** The governance pack's `rollout:` block as a YAML flow mapping; default none (mode direct). */
  readonly rollout?: string;
}

/** The agent's YAML: both packs from the examples' folders, unsigned, polled rarely (nothing changes during a run). */
export function governanceConfig(s: AgentShape): string {
  const lines = [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(s.dir, 'data')}`,
    `log_level: ${s.logLevel ?? 'silent'}`,
    'packs:',
    '  - name: governance',
    '    source:',
    `      directory: { path: ${s.governanceDir ?? GOVERNANCE_DIR}, rescan_seconds: 3600 }`,
    '    verify: { unsigned: true }',
    ...(s.rollout ? [`    rollout: ${s.rollout}`] : []),
    'governance:',
    '  pack: governance',
    // TTL well past the run, so the cached case only ever hits.
    `  cache: { enabled: ${s.cache}, ttl_seconds: 3600 }`,
    `  evidence: { dir: ${join(s.dir, 'evidence')} }`,
    '  kill_switches:',
    '    source:',
    `      directory: { path: ${KILLSWITCH_DIR}, rescan_seconds: 3600 }`,
    '    verify: { unsigned: true }',
  ];
  if (s.tenants) {
    lines.push(
      '  tenants:',
      `    issuer: ${s.tenants.issuer}`,
      `    audience: ${s.tenants.audience}`,
      '    algorithms: [ES256]',
      `    jwks_file: ${s.tenants.jwksPath}`,
    );
    if (s.tokenCacheSeconds !== undefined) lines.push(`    token_cache_seconds: ${s.tokenCacheSeconds}`);
  }
  // Files bounded: the benchmark logs a few hundred thousand verdicts.
  if (s.decisionLog)
    lines.push(
      'decision_log:',
      `  dir: ${join(s.dir, 'decisions')}`,
      `  max_file_bytes: ${16 * 2 ** 20}`,
      '  max_files: 2',
      ...(s.decisionLogService === undefined
        ? []
        : [
            '  service:',
            `    url: ${s.decisionLogService}`,
            '    upload_interval: { min_delay_seconds: 0.1, max_delay_seconds: 0.2 }',
          ]),
    );
  return `${lines.join('\n')}\n`;
}

/** A started in-process agent with its governance parts. */
export interface GovernanceAgent {
  readonly agent: RunningAgent;
  readonly governance: Governance;
  readonly killSwitches: KillSwitches;
}

/** Starts an agent in this process; throws unless governance is on and the kill-switch state loaded. */
export async function startGovernanceAgent(s: AgentShape): Promise<GovernanceAgent> {
  const config = parseConfig(governanceConfig(s), join(s.dir, 'agent.yaml'));
  const agent = await startAgent(config, createLogger(s.logLevel ?? 'silent'));
  const { governance, killSwitches } = agent;
  if (!governance || !killSwitches?.loaded) {
    await agent.close();
    throw new Error('the agent started without governance or without its kill-switch state');
  }
  return { agent, governance, killSwitches };
}

/** Writes the config of a child-process agent to `<dir>/agent.yaml`; returns its path. */
export async function writeGovernanceConfig(s: AgentShape): Promise<string> {
  const path = join(s.dir, 'agent.yaml');
  await writeFile(path, governanceConfig(s));
  return path;
}

/** Throws unless `governance` answers every case as expected (allow/deny through the policy, blocked by the switch). */
export function checkVerdicts(governance: Governance, cases: readonly VerdictCase[], who: string): void {
  for (const c of cases) {
    const v = governance.verdict(c.context);
    if (v.result !== c.expect)
      throw new Error(`${who}: "${c.label}" got ${v.result} ${JSON.stringify(v.reasons)}, expected ${c.expect}`);
  }
}
