/**
 * Node keeps the first `Authorization` header of a request and silently drops
 * any other, so a request carrying one tenant's token and then another's would
 * be answered as the first. Ambiguous credentials are refused, never guessed
 * at: this reads the raw headers and hands every Authorization value on, so the
 * validators see the repetition and refuse it.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Request headers as credential checks read them: a repeated Authorization stays a list. */
export type CredentialHeaders = Omit<IncomingHttpHeaders, 'authorization'> & {
  authorization?: string | readonly string[] | undefined;
};

/** What is read of a request: Node's IncomingMessage fits (Fastify's `request.raw`, Express's `req`). */
export interface RawRequest {
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders?: readonly string[];
}

/** The request's headers, with `authorization` a list of every value when the header was sent more than once. */
export function credentialHeaders(req: RawRequest): CredentialHeaders {
  const raw = req.rawHeaders;
  if (raw === undefined) return req.headers;
  let values: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization') (values ??= []).push(raw[i + 1] as string);
  }
  return values !== undefined && values.length > 1 ? { ...req.headers, authorization: values } : req.headers;
}
