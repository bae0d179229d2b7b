/**
 * The webhook signature scheme, for Warden (signing) and receivers (verifying).
 *
 * Each POST carries
 *
 *     X-Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * where <body> is the exact request body bytes (the event as JSON) and <t> the
 * time the attempt was sent (every retry is signed afresh). A receiver:
 * 1. reads the raw body, before any JSON parsing or re-serialising;
 * 2. recomputes HMAC-SHA256 over `<t>.<body>` with the shared secret;
 * 3. compares it with each `v1` in the header in constant time
 *    (crypto.timingSafeEqual; several `v1` may appear while a secret rotates);
 * 4. refuses a `t` more than a tolerance (e.g. 5 minutes) from its own clock,
 *    so a captured request cannot be replayed later;
 * 5. deduplicates on X-Warden-Delivery (the event id): a retry after a lost
 *    2xx answer sends the same event again.
 * {@link verifyWebhookSignature} does steps 2–4.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The default tolerance between the signed timestamp and the receiver's clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const UNIX_SECONDS = /^[0-9]{1,12}$/;

// HMAC-SHA256(secret, "<t>.<body>"), fed in pieces so the body is never copied.
function mac(secret: Buffer, t: number, body: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest();
}

/** The X-Warden-Signature header for `body` sent at `tSeconds`. */
export function signWebhook(secret: Buffer, body: Buffer | string, tSeconds: number): string {
  const t = Math.floor(tSeconds);
  return `t=${t},v1=${mac(secret, t, body).toString('hex')}`;
}

/**
 * True if `header` (X-Warden-Signature) signs `body` with `secret` and its
 * timestamp is within `toleranceSeconds` of `nowSeconds` (either side).
 * False for anything malformed; never throws.
 */
export function verifyWebhookSignature(
  secret: Buffer,
  header: string | undefined,
  body: Buffer | string,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  if (header === undefined || header.length > 4096) return false;
  let t: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return false;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !UNIX_SECONDS.test(value)) return false;
      t = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value)) {
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (t === undefined || candidates.length === 0) return false;
  if (!Number.isFinite(nowSeconds) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = mac(secret, t, body);
  // Every candidate is compared, so the time taken does not reveal which one matched.
  let ok = false;
  for (const c of candidates) ok = timingSafeEqual(c, expected) || ok;
  return ok;
}
