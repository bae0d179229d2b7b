// Everything the load run's agent needs, built fresh in a temporary folder: an ES256 key
// and its JWKS file, one pre-minted token per tenant, copies of the governance and
// kill-switch example packs (directory sources, unsigned), and the agent configuration.
// Options: `revocation` ({ url, keyPrefix }: governance.tenants.revocation against that Redis,
// LOAD_REVOCATION=1) and `tracing` (tracing.decisions.sample 0.01, LOAD_TRACING=1).
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export const ISSUER = 'https://idp.warden-load.test';
export const AUDIENCE = 'warden-load';
const KID = 'load-es256';
/** Tenants the k6 script sends requests for, with the token subject of each. */
const TENANTS = { acme: 'svc-load-acme', globex: 'svc-load-globex' };
/** Tokens outlive any sensible run; the agent refuses expired ones. */
const TOKEN_LIFETIME = '2h';

/** The decision-span sample of a LOAD_TRACING run (tracing.decisions.sample). */
export const DECISION_SAMPLE = 0.01;

/**
 * Writes keys, packs and config under `work`; returns the paths, the tokens
 * (`{tenant: {token, sub}}`, as load/governance.mjs reads TOKENS; each carries a jti and a
 * sid, so a revocation check looks both up) and `probe`, one more acme token
 * (`{token, sub, jti, exp}`) for the runner to revoke.
 */
export async function buildFixtures({ root, work, port, revocation, tracing = false }) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwksFile = join(work, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: KID, alg: 'ES256', use: 'sig' }] }));

  const mint = async (tenant, sub, jti) => {
    const token = await new SignJWT({ tenant, sid: `load-session-${tenant}` })
      .setProtectedHeader({ alg: 'ES256', kid: KID })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(TOKEN_LIFETIME)
      .sign(privateKey);
    return { token, sub, jti, exp: JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp };
  };
  const tokens = {};
  for (const [tenant, sub] of Object.entries(TENANTS)) {
    const { token } = await mint(tenant, sub, randomUUID());
    tokens[tenant] = { token, sub };
  }
  const probe = await mint('acme', TENANTS.acme, `revoked-${randomUUID()}`);

  const governanceDir = join(work, 'packs', 'governance');
  const killswitchDir = join(work, 'packs', 'killswitch');
  cpSync(join(root, 'examples', 'governance'), governanceDir, { recursive: true });
  cpSync(join(root, 'examples', 'killswitch'), killswitchDir, { recursive: true });
  const dataDir = join(work, 'data');
  mkdirSync(dataDir, { recursive: true });

  const configFile = join(work, 'agent.yaml');
  writeFileSync(
    configFile,
    agentConfig({ port, dataDir, governanceDir, killswitchDir, jwksFile, work, revocation, tracing }),
  );
  return { configFile, governanceDir, killswitchDir, jwksFile, tokens, probe };
}

// The agent configuration (YAML): governance with tenants and kill switches, decision log on.
function agentConfig({ port, dataDir, governanceDir, killswitchDir, jwksFile, work, revocation, tracing }) {
  const q = JSON.stringify; // a JSON string is a valid YAML scalar, whatever the path holds
  return `# Written by scripts/load.mjs for one load run.
listen: 127.0.0.1:${port}
data_dir: ${q(dataDir)}
log_level: info
packs:
  - name: governance
    source:
      directory:
        path: ${q(governanceDir)}
        debounce_ms: 100     # the reconfiguration scenario rewrites data.json every second
        rescan_seconds: 5
    verify:
      unsigned: true
governance:
  pack: governance
  evidence:
    dir: ${q(join(work, 'evidence'))}
  kill_switches:
    source:
      directory:
        path: ${q(killswitchDir)}
    verify:
      unsigned: true
  tenants:
    issuer: ${q(ISSUER)}
    audience: ${q(AUDIENCE)}
    algorithms: [ES256]
    jwks_file: ${q(jwksFile)}
    tenant_header: required
${revocation ? revocationConfig(revocation) : ''}${tracing ? `tracing:\n  decisions: { sample: ${DECISION_SAMPLE} }\n` : ''}decision_log:
  dir: ${q(join(work, 'decisions'))}
`;
}

// governance.tenants.revocation (indented under tenants): a read every 5 s, and a stale list
// accepts, so a Redis hiccup during the run cannot turn into 503s the k6 checks count.
function revocationConfig({ url, keyPrefix }) {
  return `    revocation:
      redis: { url: ${JSON.stringify(url)} }
      key_prefix: ${JSON.stringify(keyPrefix)}
      refresh_seconds: 5
      on_stale: fail_open
`;
}
