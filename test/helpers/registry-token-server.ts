/**
 * A real token server of the Docker registry token protocol (the one CNCF
 * distribution's `auth: token` trusts), on 127.0.0.1: `GET /token?service=…
 * &scope=repository:<name>:<actions>` (scope may repeat), with the client's
 * username and password as Basic auth or none. Wrong credentials get 401;
 * right ones (or none, when anonymous pulls are allowed) get a JWT signed
 * ES256 with the key of the JWKS the registry is given, granting the asked
 * actions the account may do, as `{token, access_token, expires_in, issued_at}`.
 * Every request is recorded (who, which scopes) for the test to read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** One account: its password and the actions it may do (pull, push). */
export interface TokenAccount {
  readonly password: string;
  readonly actions: readonly string[];
}

/** A token request as seen. */
export interface TokenRequest {
  /** The Basic auth username; undefined when anonymous. */
  readonly user: string | undefined;
  readonly service: string | null;
  readonly scopes: readonly string[];
  /** The answer's status. */
  readonly status: number;
}

/** A running token server. */
export interface TokenServer {
  /** The realm to configure the registry with. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The public key set the registry checks tokens with (`auth.token.jwks`). */
  readonly jwks: object;
  readonly requests: TokenRequest[];
  /** Mints a token directly (as an operator would for `source.oci.auth.token_file`). */
  mint(subject: string, access: Array<{ name: string; actions: string[] }>, expiresInSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

const KID = 'warden-test-token-key';

/** Starts a token server for these accounts; `anonymous` is what a request without credentials may do. */
export async function startTokenServer(opts: {
  accounts: Readonly<Record<string, TokenAccount>>;
  anonymous?: readonly string[];
  expiresInSeconds?: number;
}): Promise<TokenServer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
  const service = 'warden-test-registry';
  const issuer = 'warden-test-token-server';
  const lifetime = opts.expiresInSeconds ?? 300;
  const requests: TokenRequest[] = [];
  const mint = async (
    subject: string,
    access: Array<{ name: string; actions: string[] }>,
    expiresInSeconds = lifetime,
  ): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access: access.map((a) => ({ type: 'repository', ...a })) })
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expiresInSeconds)
      .setJti(crypto.randomUUID())
      .sign(privateKey);
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const scopes = url.searchParams.getAll('scope');
      const answer = (status: number, body: object): void => {
        requests.push({ user, service: url.searchParams.get('service'), scopes, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      let user: string | undefined;
      let allowed: readonly string[] = opts.anonymous ?? [];
      const auth = req.headers.authorization;
      if (auth !== undefined) {
        const [scheme, value = ''] = auth.split(' ');
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        user = decoded.slice(0, colon);
        const account = opts.accounts[user];
        if (scheme?.toLowerCase() !== 'basic' || colon < 0 || account?.password !== decoded.slice(colon + 1))
          return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
        allowed = account.actions;
      }
      if (url.pathname !== '/token' || url.searchParams.get('service') !== service)
        return answer(400, { errors: [{ code: 'DENIED', message: 'unknown service or path' }] });
      // Each scope: repository:<name>:<actions>; granted: the asked actions the account may do.
      const access = scopes.flatMap((s) => {
        const m = /^repository:(.+):([a-z,*]+)$/.exec(s);
        if (!m) return [];
        const actions = (m[2] ?? '').split(',').filter((a) => allowed.includes(a));
        return [{ name: m[1] ?? '', actions }];
      });
      const token = await mint(user ?? '', access);
      answer(200, { token, access_token: token, expires_in: lifetime, issued_at: new Date().toISOString() });
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    jwks: { keys: [jwk] },
    requests,
    mint,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
