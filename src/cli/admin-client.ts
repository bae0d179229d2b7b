/**
 * The CLI's client for a running agent's admin API: base URL from --url or
 * WARDEN_URL (default http://127.0.0.1:8181), token from --token-file or
 * WARDEN_TOKEN_FILE, the OS user as X-Warden-Actor for the audit trail.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { WardenError, messageOf, type ErrorCode } from '../errors.js';

/** Flags every admin command accepts. */
export const ADMIN_FLAGS = {
  url: { type: 'string' },
  'token-file': { type: 'string' },
  pack: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** How to reach the agent. */
export interface AdminTarget {
  readonly url: string;
  readonly token: string | undefined;
}

/** Resolves the target from flags and environment. */
export async function adminTarget(values: { url?: string; 'token-file'?: string }): Promise<AdminTarget> {
  const url = (values.url ?? process.env.WARDEN_URL ?? 'http://127.0.0.1:8181').replace(/\/+$/, '');
  const file = values['token-file'] ?? process.env.WARDEN_TOKEN_FILE;
  let token: string | undefined;
  if (file) {
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new WardenError('IO_FAILED', `cannot read token file ${file}: ${messageOf(err)}`, { cause: err });
    }
  }
  return { url, token };
}

/** Calls the admin API; an error answer becomes the WardenError it carries. */
export async function adminCall<T>(
  target: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  accept = 'application/json',
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        accept,
        'x-warden-actor': safeUser(),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new WardenError('FETCH_FAILED', `cannot reach the agent at ${target.url}: ${messageOf(err)}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) {
    const parsed = safeJson(text) as { code?: ErrorCode; message?: string } | undefined;
    throw new WardenError(parsed?.code ?? 'FETCH_HTTP_STATUS', parsed?.message ?? `HTTP ${res.status}`, {
      details: { status: res.status },
    });
  }
  return (accept === 'application/json' ? JSON.parse(text) : text) as T;
}

/** The one pack to act on: --pack, or the only pack the agent has. */
export async function packName(target: AdminTarget, given: string | undefined): Promise<string> {
  if (given) return given;
  const status = await adminCall<{ packs: Array<{ name: string }> }>(target, 'GET', '/v1/admin/status');
  if (status.packs.length === 1 && status.packs[0]) return status.packs[0].name;
  throw new WardenError(
    'USAGE',
    `the agent has ${status.packs.length} packs (${status.packs.map((p) => p.name).join(', ')}): name one with --pack`,
  );
}

// The OS user name, for the audit trail; "cli" if it cannot be read.
function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'cli';
  }
}

// JSON.parse that returns undefined for non-JSON.
function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
