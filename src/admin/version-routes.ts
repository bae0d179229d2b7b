/**
 * The read-only history routes: a pack's versions, one version and its files,
 * and the diff between two versions (JSON, or text for a terminal).
 */
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../errors.js';
import { formatDiffForTerminal } from '../pack-diff/diff-format.js';
import { diffPacks } from '../pack-diff/diff.js';
import { readPack, type PackFiles } from '../pack/reader.js';
import { find, pick, type AdminDeps, type PackParams } from './request.js';

/** Registers GET versions, version and diff on the admin scope. */
export function registerVersionRoutes(scope: FastifyInstance, deps: AdminDeps): void {
  scope.get<{ Params: PackParams }>('/v1/admin/packs/:pack/versions', async (request) => {
    const { activator } = pick(deps, request.params.pack);
    const state = await deps.store.state(activator.name);
    return {
      pack: activator.name,
      active: state.active,
      last_known_good: state.lastKnownGood,
      pinned: state.pinned ?? null,
      versions: state.versions.map((v) => ({
        ...v,
        active: v.digest === state.active,
        last_known_good: v.digest === state.lastKnownGood,
      })),
      rollbacks: state.rollbacks,
    };
  });

  scope.get<{ Params: PackParams & { version: string } }>(
    '/v1/admin/packs/:pack/versions/:version',
    async (request) => {
      const { activator } = pick(deps, request.params.pack);
      const version = await find(deps.store, activator.name, request.params.version);
      const stored = await deps.store.load(activator.name, version.digest);
      const files = await readStored(deps, stored.pack);
      return {
        pack: activator.name,
        version,
        signed: stored.signature !== undefined,
        files: [...files].map(([path, b]) => ({ path, bytes: b.length })),
      };
    },
  );

  scope.get<{ Params: PackParams; Querystring: { from?: string; to?: string; format?: string } }>(
    '/v1/admin/packs/:pack/diff',
    async (request, reply) => {
      const { activator } = pick(deps, request.params.pack);
      const { from, to, format } = request.query;
      if (!from || !to) throw new WardenError('USAGE', 'diff needs ?from=<version>&to=<version> (number or digest)');
      const [a, b] = await Promise.all([find(deps.store, activator.name, from), find(deps.store, activator.name, to)]);
      const [fa, fb] = await Promise.all([
        deps.store.load(activator.name, a.digest),
        deps.store.load(activator.name, b.digest),
      ]);
      const diff = diffPacks(await readStored(deps, fa.pack), await readStored(deps, fb.pack), {
        from: `v${a.number}`,
        to: `v${b.number}`,
      });
      if (format === 'text') return reply.type('text/plain; charset=utf-8').send(formatDiffForTerminal(diff));
      return { pack: activator.name, from: a, to: b, diff };
    },
  );
}

// A stored pack's files, read with the agent's limits (a pack it activated fits them).
function readStored(deps: AdminDeps, pack: Buffer): Promise<PackFiles> {
  const at = deps.packLimits ?? {};
  return readPack(pack, at.limits, at.limitKeys ? { limitKeys: at.limitKeys } : {});
}
