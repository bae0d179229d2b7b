/**
 * What every admin route shares: the agent's parts it works on (Deps), and
 * reading a request — the pack it names, a stored version by number or digest,
 * who asks (X-Warden-Actor) and why (a required reason).
 */
import type { FastifyRequest } from 'fastify';
import type { Activator } from '../activate/activator.js';
import { WardenError } from '../errors.js';
import type { EventLog } from '../notify/event-log.js';
import type { Logger } from '../observe/logger.js';
import type { LimitSettings } from '../pack/limits.js';
import type { PackSource } from '../source/types.js';
import type { PackStore } from '../store/store.js';
import type { StoredVersion } from '../store/types.js';
import type { AdminAuth } from './auth.js';

/** One pack as the admin API sees it. */
export interface AdminPack {
  readonly activator: Activator;
  readonly source: PackSource;
}

/** The agent's parts the admin API works on. */
export interface AdminDeps {
  readonly packs: ReadonlyMap<string, AdminPack>;
  readonly store: PackStore;
  readonly auth: AdminAuth;
  readonly events: EventLog;
  readonly log: Logger;
  /** The limits stored packs are read with (the agent's `limits:`). */
  readonly packLimits?: LimitSettings;
}

export type PackParams = { pack: string };
export type Body = { reason?: unknown; version?: unknown; actor?: unknown } | undefined;

/** The pack named in the path, or VERSION_NOT_FOUND. */
export function pick(deps: AdminDeps, name: string): AdminPack {
  const p = deps.packs.get(name);
  if (!p)
    throw new WardenError('VERSION_NOT_FOUND', `no pack named "${name}"`, {
      details: { packs: [...deps.packs.keys()] },
    });
  return p;
}

/** A stored version by number ("3", "v3") or digest. */
export async function find(store: PackStore, pack: string, ref: string): Promise<StoredVersion> {
  const state = await store.state(pack);
  const n = /^v?(\d+)$/.exec(ref)?.[1];
  const found =
    n !== undefined ? state.versions.find((v) => v.number === Number(n)) : state.versions.find((v) => v.digest === ref);
  if (!found)
    throw new WardenError('VERSION_NOT_FOUND', `pack "${pack}" has no stored version ${ref}`, {
      details: { pack, version: ref },
    });
  return found;
}

/** Who asked: the X-Warden-Actor header (e.g. set by the CLI to the OS user), else "admin". */
export function actorOf(request: FastifyRequest): string {
  const h = request.headers['x-warden-actor'];
  const actor = typeof h === 'string' ? h.trim().slice(0, 200) : '';
  return actor || 'admin';
}

/** A rollback or pin must say why. */
export function requireReason(body: Body): string {
  const reason = typeof body?.reason === 'string' ? body.reason.trim() : '';
  if (!reason) throw new WardenError('USAGE', 'a reason is required: {"reason": "…"}');
  if (reason.length > 2000) throw new WardenError('USAGE', 'the reason is longer than 2000 characters');
  return reason;
}
