/**
 * The admin API under `/v1/admin/`: status, versions, version detail, diff,
 * rollback, pin, unpin, reload-now, and the event stream. Every call is
 * authenticated (auth.ts) and audited: one log line with method, path, actor,
 * status and outcome, whether it was allowed or not. The routes themselves
 * live by concern: version-routes.ts (read), control-routes.ts (change),
 * events-route.ts (SSE).
 */
import type { FastifyInstance } from 'fastify';
import { credentialHeaders } from '../util/credential-headers.js';
import { registerControlRoutes } from './control-routes.js';
import { registerEventStream } from './events-route.js';
import { actorOf, type AdminDeps } from './request.js';
import { registerVersionRoutes } from './version-routes.js';

export type { AdminDeps, AdminPack } from './request.js';

/** Registers every admin route, behind the auth hook, inside its own Fastify scope. */
export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  void app.register((scope, _opts, done) => {
    scope.addHook('onRequest', (request, _reply, next) => {
      deps.auth(credentialHeaders(request.raw).authorization);
      next();
    });
    scope.addHook('onResponse', (request, reply, next) => {
      deps.log.info(
        {
          audit: 'admin',
          method: request.method,
          path: request.url,
          actor: actorOf(request),
          status: reply.statusCode,
        },
        'admin call',
      );
      next();
    });
    scope.get('/v1/admin/status', () => ({ packs: [...deps.packs.values()].map((p) => p.activator.status()) }));

    registerVersionRoutes(scope, deps);
    registerControlRoutes(scope, deps);
    registerEventStream(scope, deps.events);
    done();
  });
}
