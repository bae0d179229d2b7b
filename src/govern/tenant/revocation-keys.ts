/**
 * The Redis data model of token revocation (docs/configuration.md#token-revocation):
 *   - `<prefix>revoked:jti` and `<prefix>revoked:sid`: sorted sets, member the
 *     revoked value, score the Unix time (seconds) until which it stays
 *     revoked: the token's `exp` (after it, `exp` refuses the token anyway).
 *     A read takes the members scored after now; a write prunes the past ones.
 *   - `<prefix>revoked`: the channel a write publishes `<kind> <value>` on,
 *     so agents add it at once instead of at their next full read.
 * `revoke` is the write (what `redis-cli` does by hand: ZADD, ZREMRANGEBYSCORE, PUBLISH).
 */
import type { RedisClientType } from 'redis';
import { REVOKED_KINDS, type RevokedKind } from './revocation-list.js';

/** The sorted set holding revoked values of `kind`. */
export function revokedKey(prefix: string, kind: RevokedKind): string {
  return `${prefix}revoked:${kind}`;
}

/** The channel revocations are announced on. */
export function revokedChannel(prefix: string): string {
  return `${prefix}revoked`;
}

/** The revoked values whose revocation lasts past `nowSeconds`, in one transaction. */
export async function readRevoked(
  client: Pick<RedisClientType, 'multi'>,
  prefix: string,
  nowSeconds: number,
): Promise<Record<RevokedKind, string[]>> {
  const after = `(${Math.floor(nowSeconds)}`;
  const [jti, sid] = await client
    .multi()
    .zRangeByScore(revokedKey(prefix, 'jti'), after, '+inf')
    .zRangeByScore(revokedKey(prefix, 'sid'), after, '+inf')
    .exec();
  return { jti: strings(jti), sid: strings(sid) };
}

/** Revokes `value` of `kind` until `untilSeconds` (Unix time; the token's exp, or the session's end) and announces it. */
export async function revoke(
  client: Pick<RedisClientType, 'multi'>,
  prefix: string,
  kind: RevokedKind,
  value: string,
  untilSeconds: number,
  nowSeconds = Date.now() / 1000,
): Promise<void> {
  const key = revokedKey(prefix, kind);
  await client
    .multi()
    .zAdd(key, { score: Math.ceil(untilSeconds), value }, { GT: true }) // adds, or extends, never shortens
    .zRemRangeByScore(key, '-inf', Math.floor(nowSeconds))
    .publish(revokedChannel(prefix), `${kind} ${value}`)
    .exec();
}

/** A channel message as a revoked value, or undefined when it is not one (then a full read is due). */
export function parseNotice(message: string): { kind: RevokedKind; value: string } | undefined {
  const space = message.indexOf(' ');
  const kind = message.slice(0, space) as RevokedKind;
  const value = message.slice(space + 1);
  return space > 0 && REVOKED_KINDS.includes(kind) && value !== '' ? { kind, value } : undefined;
}

function strings(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.map(String) : [];
}
