/**
 * An in-process agent for the OpenFeature tests: the example governance pack,
 * a kill-switch pack and an `authz` policy pack, all directory sources
 * (unsigned, rescanned every 0.1 s) in a fresh folder the test can edit.
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { GOVERNANCE_DIR, type Switches } from '../helpers/governance.js';

/** The `authz` pack: one entrypoint per flag type, all reading the input. */
export const AUTHZ_FILES = {
  'warden.yaml': [
    'name: authz',
    'revision: "1"',
    'entrypoints: [authz/allow, authz/level, authz/limit, authz/profile]',
  ].join('\n'),
  'authz.rego': [
    'package authz',
    '',
    'default allow := false',
    '',
    'allow if input.subject == "alice"',
    '',
    'allow if input.role == "admin"',
    '',
    'level := "gold" if input.subject == "alice"',
    '',
    'limit := 10 * count(object.get(input, "teams", []))',
    '',
    'profile := {"subject": input.subject, "tier": input.tier}',
    '',
  ].join('\n'),
};

/** The kill-switch pack's files holding `switches` at `revision` (no golden cases, so data can change). */
export function killSwitchFiles(revision: string, switches: Switches): Record<string, string> {
  return {
    'warden.yaml': ['name: killswitches', `revision: "${revision}"`, 'entrypoints: [killswitch/state]'].join('\n'),
    'policy.rego': [
      'package killswitch',
      '',
      'default state := {}',
      '',
      'state := data.killswitch.modules if is_object(data.killswitch.modules)',
      '',
    ].join('\n'),
    'data.json': JSON.stringify({ killswitch: { modules: switches } }),
  };
}

export const SWITCHES: Switches = {
  ai_inference: { active: false, reason: '' },
  ai_training: { active: true, reason: 'training paused pending model review' },
  billing: { active: false, reason: '' },
};

/** A started agent and the folder its packs are read from. */
export interface TestAgent {
  readonly agent: RunningAgent;
  readonly dir: string;
  /** The kill-switch pack's folder (absent at boot with `coldStart`). */
  readonly killswitch: string;
}

/**
 * Starts an agent; with `coldStart` the kill-switch folder does not exist yet (write it to load a state);
 * with `decisionLog` it logs decisions to `<dir>/decisions`.
 */
export async function startTestAgent(opts: { coldStart?: boolean; decisionLog?: boolean } = {}): Promise<TestAgent> {
  const dir = tempDir('warden-openfeature-');
  await cp(GOVERNANCE_DIR, join(dir, 'governance'), { recursive: true });
  await writeTree(join(dir, 'authz'), AUTHZ_FILES);
  const killswitch = join(dir, 'killswitch');
  if (!opts.coldStart) await writeTree(killswitch, killSwitchFiles('1', SWITCHES));
  const yaml = [
    'listen: 127.0.0.1:0',
    'data_dir: data',
    'log_level: silent',
    'packs:',
    '  - name: governance',
    '    source: { directory: { path: governance, rescan_seconds: 0.1, debounce_ms: 0 } }',
    '    verify: { unsigned: true }',
    '  - name: authz',
    '    source: { directory: { path: authz, rescan_seconds: 0.1, debounce_ms: 0 } }',
    '    verify: { unsigned: true }',
    'governance:',
    '  pack: governance',
    '  evidence: { dir: evidence }',
    '  kill_switches:',
    '    source: { directory: { path: killswitch, rescan_seconds: 0.1, debounce_ms: 0 } }',
    '    verify: { unsigned: true }',
    ...(opts.decisionLog ? ['decision_log: { dir: decisions, flush_interval_ms: 20 }'] : []),
  ].join('\n');
  await writeFile(join(dir, 'agent.yaml'), yaml);
  const agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
  return { agent, dir, killswitch };
}
