/**
 * The routes that change what runs: rollback (and pin), pin, unpin, promote
 * (a shadow), and reload-now. Each says who asked (and, for rollback and pin, why) so the
 * Activator can record it.
 */
import type { FastifyInstance } from 'fastify';
import { toWardenError } from '../errors.js';
import { actorOf, find, pick, requireReason, type AdminDeps, type Body, type PackParams } from './request.js';

/** Registers POST rollback, pin, unpin, promote and reload on the admin scope. */
export function registerControlRoutes(scope: FastifyInstance, deps: AdminDeps): void {
  scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/rollback', async (request) => {
    const { activator } = pick(deps, request.params.pack);
    const body = request.body;
    const reason = requireReason(body);
    const target =
      body?.version === undefined
        ? {}
        : await find(deps.store, activator.name, String(body.version as string | number)).then((v) => ({
            digest: v.digest,
          }));
    const active = await activator.rollback(target, { actor: actorOf(request), reason });
    return {
      pack: activator.name,
      active: { digest: active.digest, number: active.number, revision: active.revision },
      pinned: true,
    };
  });

  scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/pin', async (request) => {
    const { activator } = pick(deps, request.params.pack);
    return {
      pack: activator.name,
      pin: await activator.pin({ actor: actorOf(request), reason: requireReason(request.body) }),
    };
  });

  scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/unpin', async (request) => {
    const { activator } = pick(deps, request.params.pack);
    const reason = typeof request.body?.reason === 'string' ? request.body.reason : 'unpinned';
    const active = await activator.unpin({ actor: actorOf(request), reason });
    return {
      pack: activator.name,
      active: active ? { digest: active.digest, number: active.number, revision: active.revision } : null,
      pinned: false,
    };
  });

  scope.post<{ Params: PackParams; Body: Body }>('/v1/admin/packs/:pack/promote', async (request) => {
    const { activator } = pick(deps, request.params.pack);
    const reason = typeof request.body?.reason === 'string' ? request.body.reason : 'promoted by hand';
    const active = await activator.promote({ actor: actorOf(request), reason });
    return {
      pack: activator.name,
      active: { digest: active.digest, number: active.number, revision: active.revision },
    };
  });

  scope.post<{ Params: PackParams }>('/v1/admin/packs/:pack/reload', async (request) => {
    const p = pick(deps, request.params.pack);
    try {
      // An operator asked: forget any refused pack the source skips, fetch it in full and verify it again.
      const outcome = await p.source.fetchOnce((u) => p.activator.submit(u), { force: true });
      return {
        pack: p.activator.name,
        outcome: outcome
          ? outcome.status === 'refused'
            ? { status: 'refused', error: outcome.error.toJSON() }
            : outcome
          : { status: 'unchanged' },
      };
    } catch (err) {
      return { pack: p.activator.name, outcome: { status: 'fetch_failed', error: toWardenError(err).toJSON() } };
    }
  });
}
