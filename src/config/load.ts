/**
 * Reads the agent's YAML configuration: parse, validate and default with one
 * schema, resolve relative paths against the config file's folder, freeze.
 * Every bad key is reported at once with its path.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { WardenError, messageOf } from '../errors.js';
import { formatIssues } from '../util/zod-issues.js';
import { sha256Digest } from '../verify/digest.js';
import { configSchema, type PackConfig, type RawConfig } from './schema.js';

/** A validated configuration with absolute paths; deeply frozen. */
export type AgentConfig = Readonly<RawConfig> & {
  readonly configPath: string;
  /** SHA-256 of the configuration text as read (`sha256:<hex>`), for boot evidence. */
  readonly configDigest: string;
};

/** Loads and validates the file at path. */
export async function loadConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read ${path}: ${messageOf(err)}`, { cause: err });
  }
  return parseConfig(text, resolve(path));
}

/** Validates configuration text; `configPath` anchors relative paths. */
export function parseConfig(text: string, configPath: string): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `${configPath}: not valid YAML: ${messageOf(err)}`, { cause: err });
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues);
    throw new WardenError('CONFIG_INVALID', `${configPath}: ${lines.length} bad key(s):\n${lines.join('\n')}`, {
      details: { issues: lines },
    });
  }
  return deepFreeze({
    ...resolvePaths(parsed.data, dirname(configPath)),
    configPath,
    configDigest: sha256Digest(Buffer.from(text, 'utf8')),
  });
}

// Makes every path in the configuration absolute, relative to the config file's folder.
function resolvePaths(c: RawConfig, base: string): RawConfig {
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const atOpt = (p: string | undefined): string | undefined => (p === undefined ? undefined : at(p));
  const out = structuredClone(c);
  out.data_dir = at(c.data_dir);
  if (out.opa_path !== undefined) out.opa_path = at(out.opa_path);
  if (out.admin.token_file !== undefined) out.admin.token_file = at(out.admin.token_file);
  for (const w of out.events.webhooks) w.secret_file = at(w.secret_file);
  const packPaths = (p: Pick<PackConfig, 'source' | 'verify'>): void => {
    const tls = p.source.http?.tls;
    if (tls)
      Object.assign(
        tls,
        dropUndefined({ ca_file: atOpt(tls.ca_file), cert_file: atOpt(tls.cert_file), key_file: atOpt(tls.key_file) }),
      );
    const s3 = p.source.s3;
    if (s3?.ca_file !== undefined) s3.ca_file = at(s3.ca_file);
    const creds = s3?.credentials;
    if (creds)
      Object.assign(
        creds,
        dropUndefined({
          access_key_id_file: at(creds.access_key_id_file),
          secret_access_key_file: at(creds.secret_access_key_file),
          session_token_file: atOpt(creds.session_token_file),
        }),
      );
    if (p.source.directory) p.source.directory.path = at(p.source.directory.path);
    const oci = p.source.oci;
    if (oci) {
      if (oci.ca_file !== undefined) oci.ca_file = at(oci.ca_file);
      const auth = oci.auth;
      if (auth && 'token_file' in auth) auth.token_file = at(auth.token_file);
      if (auth && 'username_file' in auth)
        Object.assign(auth, { username_file: at(auth.username_file), password_file: at(auth.password_file) });
    }
    const file = p.source.file;
    if (file) Object.assign(file, dropUndefined({ path: at(file.path), signature_path: atOpt(file.signature_path) }));
    if (p.verify.public_keys) p.verify.public_keys = p.verify.public_keys.map(at);
    if (p.verify.keyless) p.verify.keyless.trusted_root = at(p.verify.keyless.trusted_root);
  };
  out.packs.forEach(packPaths);
  const g = out.governance;
  if (g) {
    g.evidence.dir = at(g.evidence.dir);
    if (g.kill_switches) packPaths(g.kill_switches);
    if (g.tenants?.jwks_file !== undefined) g.tenants.jwks_file = at(g.tenants.jwks_file);
    const redis = g.tenants?.revocation?.redis;
    if (redis?.username_file !== undefined) redis.username_file = at(redis.username_file);
    if (redis?.password_file !== undefined) redis.password_file = at(redis.password_file);
    if (redis?.tls?.ca_file !== undefined) redis.tls.ca_file = at(redis.tls.ca_file);
  }
  if (out.decision_log) {
    out.decision_log.dir =
      out.decision_log.dir === undefined ? join(out.data_dir, 'decisions') : at(out.decision_log.dir);
    const service = out.decision_log.service;
    if (service?.token_file !== undefined) service.token_file = at(service.token_file);
    if (service?.tls?.ca_file !== undefined) service.tls.ca_file = at(service.tls.ca_file);
  }
  return out;
}

// Leaves optional keys absent rather than present-but-undefined.
function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// Freezes an object graph so nothing can change configuration after load.
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
