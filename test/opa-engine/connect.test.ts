/**
 * Connect mode against a real `opa run --server` configured as
 * docs/configuration.md says (token from a file): the acknowledgement and the
 * decisions go through the user's OPA.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { OpaSidecar } from '../../src/opa-engine/sidecar.js';
import { tempDir } from '../helpers/fs.js';
import { regoBundle } from '../helpers/opa-sidecar.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';

// A port that was free a moment ago (the endpoint's address must be in OPA's config before either starts).
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('OpaSidecar connect mode (real opa)', () => {
  let opa: OpaServer | undefined;
  let sidecar: OpaSidecar | undefined;
  after(async () => {
    await sidecar?.close();
    await opa?.stop();
  });

  it('delivers to an OPA configured to pull from the endpoint, and asks it for decisions', async () => {
    const dir = tempDir('wsc-connect-');
    const port = await freePort();
    const token = 'connect-mode-token-0123456789';
    await writeFile(join(dir, 'token'), token);
    await writeFile(
      join(dir, 'opa.yaml'),
      [
        'services:',
        '  warden:',
        `    url: http://127.0.0.1:${port}`,
        `    credentials: { bearer: { token_path: ${join(dir, 'token')} } }`,
        'bundles:',
        '  conn:',
        '    service: warden',
        '    resource: bundles/conn',
        '    persist: false',
        '    polling: { min_delay_seconds: 1, max_delay_seconds: 2, long_polling_timeout_seconds: 30 }',
        'status:',
        '  service: warden',
      ].join('\n'),
    );
    opa = await startOpaServer(['--config-file', join(dir, 'opa.yaml'), '--skip-version-check']);
    sidecar = new OpaSidecar({
      mode: 'connect',
      url: opa.url,
      runDir: dir,
      packs: ['conn'],
      bundleListen: { host: '127.0.0.1', port },
      bearerToken: token,
      activationTimeoutMs: 15_000,
      logger: createLogger('silent'),
    });
    await sidecar.start();
    await sidecar.deliver(
      'conn',
      regoBundle({ 'conn/c.rego': 'package conn\n\nv := input.n\n' }, 'conn-1', ['conn']),
      'conn-1',
    );
    assert.equal(sidecar.state().bundles.conn?.revision, 'conn-1');
    assert.equal(await sidecar.evaluate('conn/v', '{"n":12345678901234567891}', 2000), '12345678901234567891');
  });
});
