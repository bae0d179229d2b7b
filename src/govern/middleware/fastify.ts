/**
 * The governance step as a Fastify plugin: one hook (onRequest by default, so
 * a refused request is answered before its body is read) runs the enforcer
 * and either answers the refusal or sets `request.governance`. The plugin
 * skips Fastify's encapsulation (as fastify-plugin would), so registering it
 * on an instance governs that instance's routes, including those registered
 * beside it.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { credentialHeaders } from '../../util/credential-headers.js';
import { createEnforcer, type EnforcerOptions, type RequestGovernance } from './enforce.js';
import { toWardenError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by wardenGovernance for every request it let through; null on excluded routes. */
    governance: RequestGovernance | null;
  }
}

export interface WardenFastifyOptions extends EnforcerOptions<FastifyRequest> {
  /** True for URLs (path and query, as sent) the step skips, such as health checks. */
  readonly exclude?: ((url: string) => boolean) | undefined;
  /** `preHandler` when `context` needs the parsed body. Default `onRequest`. */
  readonly hook?: 'onRequest' | 'preHandler' | undefined;
}

// Registers the hook on the instance it was given (the parent scope, thanks to skip-override).
function plugin(app: FastifyInstance, options: WardenFastifyOptions, done: (err?: Error) => void): void {
  let enforce: ReturnType<typeof createEnforcer<FastifyRequest>>;
  try {
    enforce = createEnforcer<FastifyRequest>({ ...options, route: options.route ?? routeOf });
  } catch (err) {
    done(toWardenError(err));
    return;
  }
  const exclude = options.exclude;
  const hook = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    if (exclude?.(request.url)) return undefined;
    const outcome = await enforce(credentialHeaders(request.raw), request);
    void reply.headers(outcome.headers);
    if (outcome.ok) {
      request.governance = outcome.governance;
      return undefined;
    }
    return reply.code(outcome.status).send(outcome.body);
  };
  if (!app.hasRequestDecorator('governance')) app.decorateRequest('governance', null);
  if (options.hook === 'preHandler') app.addHook('preHandler', hook);
  else app.addHook('onRequest', hook);
  done();
}

// The route template as the histogram's route label (bounded cardinality).
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

/**
 * Enforces tenant isolation and verdicts on every route of the instance it is
 * registered on: `app.register(wardenGovernance, { governance, context })`.
 */
export const wardenGovernance: FastifyPluginCallback<WardenFastifyOptions> = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'warden-governance',
});
