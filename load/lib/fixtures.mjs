// Everything the load run's agent needs, built fresh in a temporary folder: an ES256 key
// and its JWKS file, one pre-minted token per tenant, copies of the governance and
// kill-switch example packs (directory sources, unsigned), and the agent configuration.
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

/**
 * Writes keys, packs and config under `work`; returns the paths and the tokens
 * (`{tenant: {token, sub}}`, as load/governance.mjs reads TOKENS).
 */
export async function buildFixtures({ root, work, port }) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwksFile = join(work, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: KID, alg: 'ES256', use: 'sig' }] }));

  const tokens = {};
  for (const [tenant, sub] of Object.entries(TENANTS)) {
    const token = await new SignJWT({ tenant })
      .setProtectedHeader({ alg: 'ES256', kid: KID })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime(TOKEN_LIFETIME)
      .sign(privateKey);
    tokens[tenant] = { token, sub };
  }

  const governanceDir = join(work, 'packs', 'governance');
  const killswitchDir = join(work, 'packs', 'killswitch');
  cpSync(join(root, 'examples', 'governance'), governanceDir, { recursive: true });
  cpSync(join(root, 'examples', 'killswitch'), killswitchDir, { recursive: true });
  const dataDir = join(work, 'data');
  mkdirSync(dataDir, { recursive: true });

  const configFile = join(work, 'agent.yaml');
  writeFileSync(configFile, agentConfig({ port, dataDir, governanceDir, killswitchDir, jwksFile, work }));
  return { configFile, governanceDir, killswitchDir, jwksFile, tokens };
}

// The agent configuration (YAML): governance with tenants and kill switches, decision log on.
function agentConfig({ port, dataDir, governanceDir, killswitchDir, jwksFile, work }) {
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
decision_log:
  dir: ${q(join(work, 'decisions'))}
`;
}
