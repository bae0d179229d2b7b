/**
 * Reads the agent's YAML configuration: parse, validate and default with one
 * schema, resolve relative paths against the config file's folder, freeze.
 * Every bad key is reported at once with its path.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { WardenError } from '../errors.js';
import { formatIssues } from '../util/zod-issues.js';
import { configSchema, type RawConfig } from './schema.js';

/** A validated configuration with absolute paths; deeply frozen. */
export type AgentConfig = Readonly<RawConfig> & { readonly configPath: string };

/** Loads and validates the file at path. */
export async function loadConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(text, resolve(path));
}

/** Validates configuration text; `configPath` anchors relative paths. */
export function parseConfig(text: string, configPath: string): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `${configPath}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues);
    throw new WardenError('CONFIG_INVALID', `${configPath}: ${lines.length} bad key(s):\n${lines.join('\n')}`, { details: { issues: lines } });
  }
  const base = dirname(configPath);
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const c = parsed.data;
  const config: RawConfig = {
    ...c,
    data_dir: at(c.data_dir),
    ...(c.opa_path === undefined ? {} : { opa_path: at(c.opa_path) }),
    packs: c.packs.map((p) => ({
      ...p,
      source: {
        ...(p.source.http
          ? {
              http: {
                ...p.source.http,
                ...(p.source.http.tls
                  ? {
                      tls: {
                        ...(p.source.http.tls.ca_file ? { ca_file: at(p.source.http.tls.ca_file) } : {}),
                        ...(p.source.http.tls.cert_file ? { cert_file: at(p.source.http.tls.cert_file) } : {}),
                        ...(p.source.http.tls.key_file ? { key_file: at(p.source.http.tls.key_file) } : {}),
                      },
                    }
                  : {}),
              },
            }
          : {}),
        ...(p.source.file
          ? { file: { ...p.source.file, path: at(p.source.file.path), ...(p.source.file.signature_path ? { signature_path: at(p.source.file.signature_path) } : {}) } }
          : {}),
      },
      verify: {
        ...(p.verify.public_keys ? { public_keys: p.verify.public_keys.map(at) } : {}),
        ...(p.verify.keyless ? { keyless: { ...p.verify.keyless, trusted_root: at(p.verify.keyless.trusted_root) } } : {}),
        ...(p.verify.unsigned ? { unsigned: p.verify.unsigned } : {}),
      },
    })),
  };
  return deepFreeze({ ...config, configPath });
}

// Freezes an object graph so nothing can change configuration after load.
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
