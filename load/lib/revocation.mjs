// LOAD_REVOCATION=1: a real redis-server for the run's governance.tenants.revocation, with a
// few revoked values written the documented way (`revoke` of src/govern/tenant/revocation-keys.ts:
// ZADD + prune + PUBLISH). None of them is a load token's: the k6 checks expect every request
// to pass the token check. One extra token (`probe`) is revoked; the runner's warm-up asserts
// it is refused with 401 TOKEN_REVOKED, the proof that revocation is on.
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from 'redis';
import { freePort } from './agent.mjs';
import { redisServerBinary, spawnRedisServer } from './redis-server.mjs';

export const KEY_PREFIX = 'warden-load:';
/** Revoked values that no load token carries: what a real list holds (other users' tokens). */
const OTHER_JTIS = 50;
const OTHER_SIDS = 5;

/** Starts redis-server (temp folder, free port); `stop` kills it by handle and removes the folder. */
export async function startRedis() {
  const bin = redisServerBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'warden-load-redis-'));
  const output = [];
  const { child, ready } = spawnRedisServer({ bin, port, dir, output });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, output, stop };
}

/**
 * Writes the revoked values, each until `untilSeconds` (the tokens' exp): OTHER_JTIS jti and
 * OTHER_SIDS sid values nobody uses, and `probeJti`. `root` locates dist/ (the runner needs a build).
 */
export async function writeRevoked({ root, url, probeJti, untilSeconds }) {
  const { revoke } = await import(pathToFileURL(join(root, 'dist', 'govern', 'tenant', 'revocation-keys.js')).href);
  const client = createClient({ url });
  await client.connect();
  try {
    for (let i = 0; i < OTHER_JTIS; i += 1) await revoke(client, KEY_PREFIX, 'jti', randomUUID(), untilSeconds);
    for (let i = 0; i < OTHER_SIDS; i += 1) await revoke(client, KEY_PREFIX, 'sid', randomUUID(), untilSeconds);
    await revoke(client, KEY_PREFIX, 'jti', probeJti, untilSeconds);
  } finally {
    await client.quit();
  }
  return { jti: OTHER_JTIS + 1, sid: OTHER_SIDS };
}
