/**
 * The admin API under `/v1/admin/`: status, versions, version detail, diff,
 * rollback, pin, unpin, reload-now, and the event stream. Every call is
 * authenticated (auth.ts) and audited: one log line with method, path, actor,
 * status and outcome, whether it was allowed or not.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Activator } from '../activate/activator.js';
import { WardenError, toWardenError } from '../errors.js';
import { diffPacks } from '../pack-diff/diff.js';
import { formatDiffForTerminal } from '../pack-diff/diff-format.js';
import type { EventLog } from '../notify/event-log.js';
import type { Logger } from '../observe/logger.js';
import { readPack } from '../pack/reader.js';
import type { PackSource } from '../source/types.js';
import type { PackStore } from '../store/store.js';
import type { StoredVersion } from '../store/types.js';
import { credentialHeaders } from '../util/credential-headers.js';
import type { AdminAuth } from './auth.js';
import { registerEventStream } from './events-route.js';

/** One pack as the admin API sees it. */
export interface AdminPack {
  readonly activator: Activator;
  readonly source: PackSource;
}

interface Deps {
  readonly packs: ReadonlyMap<string, AdminPack>;
  readonly store: PackStore;
  readonly auth: AdminAuth;
  readonly events: EventLog;
  readonly log: Logger;
}

type PackParams = { pack: string };
type Body = { reason?: unknown; version?: unknown; actor?: unknown } | undefined;

/** Registers every admin route, behind the auth hook, inside its own Fastify scope. */
export function registerAdmin(app: FastifyInstance, deps: Deps): void {
  void app.register((scope, _opts, done) => {
    scope.addHook('onRequest', (request, _reply, next) => {
      deps.auth(credentialHeaders(request.raw).authorization);
      next();
    });
    scope.addHook('onResponse', (request, reply, next) => {
      deps.log.info({ audit: 'admin', method: request.method, path: request.url, actor: actorOf(request), status: reply.statusCode }, 'admin call');
      next();
    });
    scope.get('/v1/admin/status', () => ({ packs: [...deps.packs.values()].map((p) => p.activator.status()) }));

    scope.get<{ Params: PackParams }>('/v1/admin/packs/:pack/versions', async (request) => {
      const { activator } = pick(deps, request.params.pack);
      const state = await deps.store.state(activator.name);
      return {
        pack: activator.name,
        active: state.active,
        last_known_good: state.lastKnownGood,
        pinned: state.pinned ?? null,
        versions: state.versions.map((v) => ({ ...v, active: v.digest === state.active, last_known_good: v.digest === state.lastKnownGood })),
        rollbacks: state.rollbacks,
      };
    });

    scope.get<{ Params: PackParams & { version: string } }>('/v1/admin/packs/:pack/versions/:version', async (request) => {
      const { activator } = pick(deps, request.params.pack);
      const version = await find(deps.store, activator.name, request.params.version);
      const stored = await deps.store.load(activator.name, version.digest);
      const files = await readPack(stored.pack);
      return { pack: activator.name, version, signed: stored.signature !== undefined, files: [...files].map(([path, b]) => ({ path, bytes: b.length })) };
    });

    scope.get<{ Params: PackParams; Querystring: { from?: string; to?: string; format?: string } }>('/v1/admin/packs/:pack/diff', async (request, reply) => {
      const { activator } = pick(deps, request.params.pack);
      const { from, to, format } = request.query;
      if (!from || !to) throw new WardenError('USAGE', 'diff needs ?from=<version>&to=<version> (number or digest)');
      const [a, b] = await Promise.all([find(deps.store, activator.name, from), find(deps.store, activator.name, to)]);
      const [fa, fb] = await Promise.all([deps.store.load(activator.name, a.digest), deps.store.load(activator.name, b.digest)]);
      const diff = diffPacks(await readPack(fa.pack), await readPack(fb.pack), { from: `v${a.number}`, to: `v${b.number}` });
      if (format === 'text') return reply.type('text/plain; charset=utf-8').send(formatDiffForTerminal(diff));
      return { pack: activator.name, from: a, to: b, diff };
    });

    scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/rollback', async (request) => {
      const { activator } = pick(deps, request.params.pack);
      const body = request.body;
      const reason = requireReason(body);
      const target =
        body?.version === undefined ? {} : await find(deps.store, activator.name, String(body.version as string | number)).then((v) => ({ digest: v.digest }));
      const active = await activator.rollback(target, { actor: actorOf(request), reason });
      return { pack: activator.name, active: { digest: active.digest, number: active.number, revision: active.revision }, pinned: true };
    });

    scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/pin', async (request) => {
      const { activator } = pick(deps, request.params.pack);
      return { pack: activator.name, pin: await activator.pin({ actor: actorOf(request), reason: requireReason(request.body) }) };
    });

    scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/unpin', async (request) => {
      const { activator } = pick(deps, request.params.pack);
      const reason = typeof request.body?.reason === 'string' ? request.body.reason : 'unpinned';
      const active = await activator.unpin({ actor: actorOf(request), reason });
      return { pack: activator.name, active: active ? { digest: active.digest, number: active.number, revision: active.revision } : null, pinned: false };
    });

    scope.post<{ Params: PackParams }>('/v1/admin/packs/:pack/reload', async (request) => {
      const p = pick(deps, request.params.pack);
      try {
        // An operator asked: forget any refused pack the source skips, fetch it in full and verify it again.
        const outcome = await p.source.fetchOnce((u) => p.activator.submit(u), { force: true });
        return { pack: p.activator.name, outcome: outcome ? (outcome.status === 'refused' ? { status: 'refused', error: outcome.error.toJSON() } : outcome) : { status: 'unchanged' } };
      } catch (err) {
        return { pack: p.activator.name, outcome: { status: 'fetch_failed', error: toWardenError(err).toJSON() } };
      }
    });

    registerEventStream(scope, deps.events);
    done();
  });
}

// The pack named in the path, or VERSION_NOT_FOUND.
function pick(deps: Deps, name: string): AdminPack {
  const p = deps.packs.get(name);
  if (!p) throw new WardenError('VERSION_NOT_FOUND', `no pack named "${name}"`, { details: { packs: [...deps.packs.keys()] } });
  return p;
}

// A stored version by number ("3", "v3") or digest.
async function find(store: PackStore, pack: string, ref: string): Promise<StoredVersion> {
  const state = await store.state(pack);
  const n = /^v?(\d+)$/.exec(ref)?.[1];
  const found = n !== undefined ? state.versions.find((v) => v.number === Number(n)) : state.versions.find((v) => v.digest === ref);
  if (!found) throw new WardenError('VERSION_NOT_FOUND', `pack "${pack}" has no stored version ${ref}`, { details: { pack, version: ref } });
  return found;
}

// Who asked: the X-Warden-Actor header (e.g. set by the CLI to the OS user), else "admin".
function actorOf(request: FastifyRequest): string {
  const h = request.headers['x-warden-actor'];
  const actor = typeof h === 'string' ? h.trim().slice(0, 200) : '';
  return actor || 'admin';
}

// A rollback or pin must say why.
function requireReason(body: Body): string {
  const reason = typeof body?.reason === 'string' ? body.reason.trim() : '';
  if (!reason) throw new WardenError('USAGE', 'a reason is required: {"reason": "…"}');
  if (reason.length > 2000) throw new WardenError('USAGE', 'the reason is longer than 2000 characters');
  return reason;
}
