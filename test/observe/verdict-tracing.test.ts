/**
 * Verdict spans in a real agent with the real OpenTelemetry SDK: with
 * `tracing.decisions.sample: 1` each verdict is a `warden.verdict` span with the
 * pack, digest, revision, entrypoint, decision id and outcome, and no input;
 * `include_input: true` adds it; sample 0 makes no span.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { DecisionRouter } from '../../src/decide/router.js';
import { Governance } from '../../src/govern/verdict/governance.js';
import { DecisionTracing } from '../../src/observe/decision-tracing.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { ALLOW_CORE, DENY, governancePack, governanceYaml } from '../helpers/governance.js';
import { installOtel, onlySpan, type InstalledOtel } from '../helpers/otel.js';
import { p256 } from '../helpers/packs.js';
import { publish } from '../helpers/variants.js';

const key = p256();

describe('verdict spans', () => {
  let otel: InstalledOtel;
  let agent: RunningAgent;

  before(async () => {
    otel = installOtel();
    const dir = tempDir();
    await writeTree(dir, { 'policy.pub': key.publicPem, 'packs/.keep': '' });
    await publish(join(dir, 'packs'), 'governance', await governancePack(1), key.privateKey);
    const yaml = governanceYaml({ extra: ['tracing: { decisions: { sample: 1 } }'] });
    agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
  });

  after(async () => {
    await agent.close();
    await otel.uninstall();
  });

  beforeEach(() => otel.exporter.reset());

  it('traces every verdict at sample 1 with pack, digest, entrypoint and outcome, without the input', () => {
    const v = agent.governance?.verdict(DENY);
    assert.equal(v?.result, 'deny');
    const span = onlySpan(otel, 'warden.verdict');
    assert.equal(span.attributes['warden.pack'], 'governance');
    assert.equal(span.attributes['warden.digest'], v?.digest);
    assert.equal(span.attributes['warden.revision'], 'v1');
    assert.equal(span.attributes['warden.entrypoint'], 'governance/verdict');
    assert.equal(span.attributes['warden.decision_id'], v?.decisionId);
    assert.equal(span.attributes['warden.result'], 'deny');
    assert.equal(span.attributes['warden.cached'], false);
    assert.equal(span.attributes['warden.input'], undefined);
  });

  it('adds the input only when configured, and samples nothing at 0', () => {
    const router = new DecisionRouter(agent.packs.map((p) => p.activator));
    router.rebuild();
    const make = (sample: number, includeInput: boolean): Governance =>
      new Governance({
        decider: agent.decider,
        router,
        entrypoint: 'governance/verdict',
        killSwitches: agent.killSwitches ?? assert.fail('kill switches'),
        log: createLogger('silent'),
        tracing: new DecisionTracing({ sample, includeInput }),
      });
    assert.equal(make(0, true).verdict(ALLOW_CORE).result, 'allow');
    assert.equal(otel.spans().length, 0);
    make(1, true).verdict(ALLOW_CORE);
    const span = onlySpan(otel, 'warden.verdict');
    assert.equal(span.attributes['warden.result'], 'allow');
    assert.deepEqual(JSON.parse(String(span.attributes['warden.input'])), ALLOW_CORE);
  });
});
