/**
 * The OPA child's supervision against the real opa: a killed child is
 * restarted and answers from the same revision; a leftover opa from a killed
 * Warden is cleaned up at start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isWardenError } from '../../src/errors.js';
import { locateOpa } from '../../src/opa/locate.js';
import { tempDir } from '../helpers/fs.js';
import { closeAllSidecars, regoBundle, startSidecar } from '../helpers/opa-sidecar.js';
import { eventually } from '../helpers/wait.js';

const policy = (v: number): Record<string, string> => ({ 'sup/sup.rego': `package sup\n\nv := ${v}\n` });

describe('OpaSidecar supervision (real opa)', () => {
  after(closeAllSidecars);

  it('restarts a child killed with SIGKILL; meanwhile decisions are refused OPA_UNAVAILABLE; then it answers from the same revision', async () => {
    const sidecar = await startSidecar(['sup']);
    await sidecar.deliver('sup', regoBundle(policy(1), 'sup-1', ['sup']), 'sup-1');
    const firstPid = sidecar.state().pid ?? 0;
    assert.ok(firstPid > 0);

    const exited = once(sidecar, 'exit');
    const up = once(sidecar, 'up');
    process.kill(firstPid, 'SIGKILL');
    const [exit] = (await exited) as [{ signal: string }];
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(sidecar.state().up, false);
    const started = performance.now();
    await assert.rejects(sidecar.evaluate('sup/v', undefined, 5000), (err) => isWardenError(err, 'OPA_UNAVAILABLE'));
    assert.ok(performance.now() - started < 100, 'refused at once, not after waiting');

    await up;
    const state = sidecar.state();
    assert.equal(state.up, true);
    assert.equal(state.restarts, 1);
    assert.notEqual(state.pid, firstPid);
    assert.equal(state.bundles.sup?.revision, 'sup-1');
    assert.equal(await sidecar.evaluate('sup/v', undefined, 2000), '1');
  });

  it('kills the opa a killed Warden left running (pid file in runDir) before starting its own', async () => {
    const runDir = tempDir('wsc-left-');
    const leftover = spawn(
      locateOpa().path,
      ['run', '--server', '--addr', `unix://${join(runDir, 'left.sock')}`, '--skip-version-check'],
      {
        stdio: 'ignore',
      },
    );
    const gone = once(leftover, 'exit');
    await eventually(() => existsSync(join(runDir, 'left.sock')), {
      what: 'the leftover opa listening',
    });
    await writeFile(join(runDir, 'opa.pid'), `${leftover.pid ?? 0}\n`);

    const sidecar = await startSidecar(['sup'], { runDir });
    const [code, signal] = (await gone) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', `leftover exit ${String(code)}`);
    assert.notEqual(sidecar.state().pid, leftover.pid);
    await sidecar.deliver('sup', regoBundle(policy(2), 'sup-2', ['sup']), 'sup-2');
    assert.equal(await sidecar.evaluate('sup/v', undefined, 2000), '2');
  });
});
