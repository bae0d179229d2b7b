/**
 * Input fuzz of the agent's HTTP API, against a real `warden agent` process
 * serving the example authz pack (OPA data API) and the example governance
 * and kill-switch packs (verdicts), with tenant JWTs verified against a JWKS.
 *
 * What it proves, for a seeded, reproducible stream of hostile requests
 * (random JSON inputs and verdict contexts, lone surrogates and other escapes,
 * invalid UTF-8, nesting far past 5,000 levels, bodies around the 1 MiB limit,
 * malformed and non-object bodies, odd token claims and headers):
 *   - no request is answered 5xx, and every request within the 1 MiB body
 *     limit gets an answer (a larger one may be refused by closing the
 *     connection: that is counted and reported, not failed);
 *   - every 4xx answer is JSON whose `code` is in the error registry;
 *   - the agent process never exits, and still answers the example decisions
 *     correctly afterwards;
 *   - once the load is over, the agent's resident memory comes back to within
 *     10 % of what it was after a warm-up run of the same kind of requests.
 * A request reset before any answer (the server closes a keep-alive
 * connection after some refusals, and the next request on it is lost) is
 * retried once on a new connection; only a reset that repeats is a failure.
 * The example kill-switch state blocks some modules by design (503
 * KILL_SWITCH_ACTIVE); those modules are never sent, so any 503 is a failure.
 *
 * Memory: the baseline is taken only after the warm-up has sent the deepest
 * and largest bodies (the fixed corner cases come first), because what they
 * grow never shrinks back by design — WebAssembly memory cannot shrink, and
 * V8 keeps a grown heap until its memory reducer runs on an idle isolate.
 * The baseline is the RSS once it has stopped moving (1 s of samples within
 * 2 %, at most 3 s); after the fuzz the agent is left idle (RSS is read from
 * /proc, never over HTTP) and polled until it is back under the bound, for at
 * most 15 s. Memory retained per request (a leak) is what stays above it.
 * Every failure is collected (not just the first) and reported grouped by
 * status, code and message, with the seed and a case index that rebuilds it:
 *   WARDEN_FUZZ_SEED=<seed> WARDEN_FUZZ_CASE=<index> npm test -- input-fuzz
 * runs that one case and prints the request and the answer.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { ERROR_CODES } from '../../src/errors.js';
import { buildPack } from '../../src/pack/build.js';
import { tempDir } from '../helpers/fs.js';
import {
  DEFAULT_JSON,
  RawBody,
  caseRng,
  showBytes,
  writeDeep,
  writeString,
  writeValue,
  type Rng,
} from '../helpers/fuzz.js';
import {
  KILLSWITCH_DIR,
  governancePack,
  governanceYaml,
  killSwitchPack,
  type Switches,
} from '../helpers/governance.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { publish } from '../helpers/variants.js';

/** The default seed: fixed, so a run is reproducible; WARDEN_FUZZ_SEED (decimal or 0x hex) explores others. */
const DEFAULT_SEED = 0x5eed2026;
const CASES = 10_000;
/** Cases run before the memory baseline is taken; the fixed corner cases (deepest, largest) come first among them. */
const WARM_UP = 1_000;
const IN_FLIGHT = 8;
const REQUEST_TIMEOUT_MS = 10_000;
/** No new case starts after this long: the test stays bounded even if the agent slows to a crawl. */
const FUZZ_BUDGET_MS = 35_000;
/** A response slower than this is reported (not failed). */
const SLOW_MS = 1_000;
const RSS_TOLERANCE = 0.1;
/** How long the agent may take, idle, to come back under the RSS bound. */
const RSS_RETURN_MS = 15_000;

const MIB = 1024 * 1024;
/** The agent's body limit (limits.max_body_bytes, set in its configuration): a larger body may be refused by closing the connection, as long as it is refused. */
const MAX_BODY_BYTES = MIB;
const DEPTHS = [1, 10, 100, 1000, 4000, 5000, 5001, 6000, 20_000, 100_000] as const;
/** Sizes around the 1 MiB body limit (one long string: the cheapest value to decide on). */
const LIMIT_SIZES = [MIB - 64, MIB - 1, MIB, MIB + 1, 2 * MIB, 4 * MIB] as const;
/**
 * Sizes for every kind of filling, up to 256 KiB: the engine's time and memory
 * grow with the number of values (a 1 MiB array of zeros takes ~0.6 s on an
 * idle machine, seconds on a busy one) and the test must stay bounded.
 */
const FILL_SIZES = [1024, 16 * 1024, 64 * 1024, 256 * 1024] as const;
const FILLS = ['string', 'escapes', 'nonbmp', 'array', 'object'] as const;

const ROUTES = ['authz/allow', 'authz/reasons', 'verdict'] as const;
type Route = (typeof ROUTES)[number];

const ISSUER = 'https://idp.fuzz.test';
const AUDIENCE = 'warden';

/** How a case authenticates: a token of the pool (possibly mangled), a raw Authorization value, or nothing. */
type Auth =
  | { readonly token: number; readonly mangle?: 'suffix' | 'lower' | 'tab' | 'trailing' }
  | { readonly raw: string }
  | undefined;

/** One request: everything but the token bytes is a function of (seed, index). */
interface Case {
  readonly index: number;
  readonly kind: string;
  readonly route: Route;
  readonly auth: Auth;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** What came back. */
interface Outcome {
  readonly status: number;
  readonly text: string;
  readonly error?: string;
  readonly ms: number;
}

/** A class of failures: same status, code and message shape. */
interface FailureClass {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  count: number;
  readonly routes: Set<Route>;
  readonly kinds: Set<string>;
  readonly cases: number[];
  smallest: Case;
}

// ---------------------------------------------------------------------------
// The seed and the example data the cases draw on.

function seedFromEnv(): number {
  const raw = process.env.WARDEN_FUZZ_SEED?.trim();
  if (!raw) return DEFAULT_SEED;
  const n = Number(raw);
  assert.ok(
    Number.isSafeInteger(n) && n >= 0 && n <= 0xffffffff,
    `WARDEN_FUZZ_SEED must be an integer from 0 to 2^32-1, got ${raw}`,
  );
  return n;
}
const SEED = seedFromEnv();
const SEED_TEXT = `0x${SEED.toString(16)}`;
const ONLY_CASE = process.env.WARDEN_FUZZ_CASE === undefined ? undefined : Number(process.env.WARDEN_FUZZ_CASE);
assert.ok(
  ONLY_CASE === undefined || (Number.isSafeInteger(ONLY_CASE) && ONLY_CASE >= 0),
  `WARDEN_FUZZ_CASE must be a case index, got ${process.env.WARDEN_FUZZ_CASE}`,
);

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
/** The example kill-switch state: its blocked modules are never sent (a 503 KILL_SWITCH_ACTIVE for them is by design). */
const EXAMPLE_SWITCHES = (
  JSON.parse(await readFile(join(KILLSWITCH_DIR, 'data.json'), 'utf8')) as { killswitch: { modules: Switches } }
).killswitch.modules;
const BLOCKED = new Set(
  Object.entries(EXAMPLE_SWITCHES)
    .filter(([, s]) => s.active)
    .map(([m]) => m),
);
const MODULES = [
  'billing',
  'identity',
  'reporting',
  'ai_inference',
  'ai_training',
  'crm',
  'Billing',
  'billing ',
  'ai-inference',
  'a',
  'x'.repeat(128),
  'x'.repeat(129),
  '\\ud800',
  '😀',
  '../billing',
  'billing\\u0000',
].filter((m) => !BLOCKED.has(m));
const TENANTS = [
  'acme',
  'globex',
  'initech',
  'umbrella',
  'ACME',
  '',
  ' ',
  'acme\\u0000',
  '\\ud800',
  'acme\\udfff',
  'a'.repeat(63),
  'a'.repeat(64),
  '-acme',
  'acme/x',
  '😀',
];
const SUBJECTS = [
  'alice',
  'svc-fraud',
  'ml-pipeline',
  '',
  ' ',
  '\\ud800',
  'a\\udfff',
  '😀',
  'x'.repeat(256),
  'x'.repeat(257),
  '\\u0000',
  'robert\\"); DROP',
];
const ACTIONS = [
  'read',
  'create',
  'refund',
  'update',
  'delete',
  'export',
  'invoke',
  'train',
  'evaluate',
  'write',
  'READ',
  '',
  '\\udfff',
  'x'.repeat(129),
];
const PURPOSES = [
  'fraud_detection',
  'support_assistant',
  'personalisation',
  'model_improvement',
  'marketing',
  '',
  '\\ud83d',
  'x'.repeat(128),
  'x'.repeat(129),
];
const ROLES = ['admin', 'editor', 'viewer', 'Admin', 'admin ', '', '\\ud800', 'role %s %v', '😀'];

/** Claims of the token pool: good callers with odd subjects, then odd tenants, then tokens that must not verify. */
interface TokenSpec {
  readonly claims: JWTPayload;
  readonly special?: 'expired' | 'audience' | 'issuer' | 'other-key' | 'not-before';
}
const ODD_STRINGS = ['', ' ', '\ud800', 'a\udfff', '\ud83d', '😀', '\u0000', 'x'.repeat(257), 'ａｃｍｅ', 'acme\n'];
const TOKEN_SPECS: readonly TokenSpec[] = [
  ...['alice', 'svc-fraud', undefined, ...ODD_STRINGS, 42, ['alice'], null, { id: 'alice' }].map((sub) => ({
    claims: { tenant: 'acme', ...(sub === undefined ? {} : { sub }) } as JWTPayload,
  })),
  ...['ml-pipeline', 'svc-ml', '\ud800'].map((sub) => ({ claims: { tenant: 'globex', sub } })),
  ...[
    'initech',
    'umbrella',
    ...ODD_STRINGS,
    'ACME',
    'a'.repeat(63),
    'a'.repeat(64),
    '-acme',
    'acme/x',
    123,
    0,
    ['acme'],
    { id: 'acme' },
    null,
    true,
    undefined,
  ].map((tenant) => ({
    claims: { sub: 'alice', ...(tenant === undefined ? {} : { tenant }) },
  })),
  { claims: { tenant: 'acme', sub: 'alice', pad: 'p'.repeat(8000) } },
  { claims: { tenant: 'acme', sub: 'alice' }, special: 'expired' },
  { claims: { tenant: 'acme', sub: 'alice' }, special: 'audience' },
  { claims: { tenant: 'acme', sub: 'alice' }, special: 'issuer' },
  { claims: { tenant: 'acme', sub: 'alice' }, special: 'other-key' },
  { claims: { tenant: 'acme', sub: 'alice' }, special: 'not-before' },
];
/** Pool entries whose tenant is a usable string (a body may name the same tenant). */
const tenantOf = (i: number): string | undefined => {
  const t = TOKEN_SPECS[i]?.claims['tenant'];
  return typeof t === 'string' && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(t) ? t : undefined;
};
const GOOD_TOKENS = TOKEN_SPECS.map((_, i) => i).filter(
  (i) => tenantOf(i) !== undefined && TOKEN_SPECS[i]?.special === undefined,
);
/** Good tokens with an ordinary subject (or none): their verdicts get as far as the policy. */
const PLAIN_TOKENS = GOOD_TOKENS.filter((i) =>
  [undefined, 'alice', 'svc-fraud', 'ml-pipeline', 'svc-ml'].includes(TOKEN_SPECS[i]?.claims.sub),
);

const RAW_AUTH = [
  'Bearer',
  'Bearer ',
  'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
  'Bearer a.b.c',
  'Bearer ....',
  'Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIiwiZXhwIjo0MTAyNDQ0ODAwfQ.',
  `Bearer ${'x'.repeat(16_000)}`,
  `Bearer ${'eyJ'.repeat(100)}.${'e30'.repeat(100)}.${'A'.repeat(86)}`,
  `Bearer ${'x'.repeat(17_000)}`, // past Node's 16 KiB header limit
] as const;
const TENANT_HEADERS = [
  'acme',
  'globex',
  'ACME',
  '',
  ' ',
  'acme,globex',
  'a'.repeat(64),
  '../acme',
  'acm\té',
  'initech',
];
const CONTENT_TYPES = { json: 85, text: 4, form: 4, none: 4, utf16: 3 } as const;
const CONTENT_TYPE_VALUES: Readonly<Record<keyof typeof CONTENT_TYPES, string | undefined>> = {
  json: 'application/json',
  text: 'text/plain',
  form: 'application/x-www-form-urlencoded',
  none: undefined,
  utf16: 'application/json; charset=utf-16',
};

/** Bodies that are not a JSON object, or not JSON at all. */
const MALFORMED: readonly Buffer[] = [
  '',
  ' ',
  '\r\n\t',
  '{',
  '}',
  '[',
  '{"input":',
  '{"input":1',
  '{"input":1}}',
  '{"input":1} x',
  '{"input":1}{}',
  '{"input":1}\u0000',
  '{"input":1,}',
  '{,}',
  "{'input':1}",
  '{input:1}',
  '{"input":NaN}',
  '{"input":undefined}',
  '{"input":01}',
  '{"input":"\\x41"}',
  '{"input":"\\u12"}',
  '{"input":"a',
  '{"input":"\\',
  'null',
  'true',
  '0',
  '-0',
  '1e400',
  '-1e400',
  '12345678901234567891',
  '"text"',
  '"\\ud800"',
  '[]',
  '[1,2]',
  '[{"input":1}]',
  '\ufeff{"input":1}',
  `{"input":1}${' '.repeat(1000)}`,
  '['.repeat(10),
  '{"a":'.repeat(100),
  '{"input":{"user":{"roles":["admin"]},"action":"read"}',
  '{"tenant":"acme","module":"billing","action":"read"',
  '{"tenant":"acme","module":"billing","action":"read"}}',
]
  .map((s) => Buffer.from(s, 'utf8'))
  .concat([
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"input":1}', 'utf16le')]),
    Buffer.from('{"input":1}', 'utf16le'),
    Buffer.from([0x7b, 0x22, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), // {"input":"\xff"}
    Buffer.from([0xff]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.concat([Buffer.from('{"input":1}'), Buffer.alloc(1000)]),
  ]);

// ---------------------------------------------------------------------------
// Case generation: case i is a pure function of (SEED, i).

/** The fixed corner cases, first in every run: every depth, every size, every malformed body, on every route. */
type Corner =
  | {
      readonly kind: 'deep';
      readonly depth: number;
      readonly shape: 'array' | 'object' | 'mixed';
      readonly route: Route;
    }
  | { readonly kind: 'size'; readonly size: number; readonly fill: (typeof FILLS)[number]; readonly route: Route }
  | { readonly kind: 'malformed'; readonly body: Buffer; readonly route: Route };
const CORNERS: readonly Corner[] = [
  ...DEPTHS.flatMap((depth) =>
    (['array', 'object', 'mixed'] as const).flatMap((shape) =>
      ROUTES.map((route) => ({ kind: 'deep' as const, depth, shape, route })),
    ),
  ),
  ...LIMIT_SIZES.flatMap((size) =>
    (['authz/allow', 'verdict'] as const).map((route) => ({
      kind: 'size' as const,
      size,
      fill: 'string' as const,
      route,
    })),
  ),
  ...FILL_SIZES.flatMap((size) =>
    FILLS.map((fill) => ({ kind: 'size' as const, size, fill, route: 'authz/allow' as const })),
  ),
  ...MALFORMED.flatMap((body) => ROUTES.map((route) => ({ kind: 'malformed' as const, body, route }))),
];

/** Case `index` of this run. */
function caseAt(index: number): Case {
  const rng = caseRng(SEED, index);
  const corner = CORNERS[index];
  if (corner) return finish(rng, index, corner.kind, corner.route, cornerBody(rng, corner));
  const kind = rng.weighted({ data: 40, authz: 14, verdict: 35, malformed: 7, deep: 3, size: 1 });
  const route: Route =
    kind === 'verdict'
      ? 'verdict'
      : kind === 'data' || kind === 'authz'
        ? rng.pick(['authz/allow', 'authz/reasons'] as const)
        : rng.pick(ROUTES);
  switch (kind) {
    case 'data':
      return finish(rng, index, kind, route, dataBody(rng));
    case 'authz':
      return finish(rng, index, kind, route, authzBody(rng));
    case 'verdict': {
      const c = finish(rng, index, kind, route, new RawBody());
      return { ...c, body: verdictBody(rng, c.auth).toBuffer() };
    }
    case 'malformed':
      return finish(rng, index, kind, route, rng.chance(0.5) ? rng.pick(MALFORMED) : mangled(rng, route));
    case 'deep':
      return finish(
        rng,
        index,
        kind,
        route,
        cornerBody(rng, {
          kind,
          route,
          depth: rng.pick(DEPTHS.filter((d) => d <= 6000)),
          shape: rng.pick(['array', 'object', 'mixed'] as const),
        }),
      );
    case 'size':
      return finish(
        rng,
        index,
        kind,
        route,
        cornerBody(rng, { kind, route, size: rng.pick(FILL_SIZES.slice(0, 2)), fill: rng.pick(FILLS) }),
      );
    default: {
      const unreachable: never = kind;
      throw new Error(`no case kind ${String(unreachable)}`);
    }
  }
}

// Headers and authentication around a body.
function finish(rng: Rng, index: number, kind: string, route: Route, body: RawBody | Buffer): Case {
  const headers: Record<string, string> = {};
  const type = CONTENT_TYPE_VALUES[rng.weighted(CONTENT_TYPES)];
  if (type !== undefined) headers['content-type'] = type;
  let auth: Auth;
  if (route === 'verdict') {
    const how = kind === 'verdict' ? rng.weighted({ good: 70, pool: 18, mangled: 4, raw: 5, none: 3 }) : 'good';
    if (how === 'good') auth = { token: rng.pick(rng.chance(0.6) ? PLAIN_TOKENS : GOOD_TOKENS) };
    else if (how === 'pool') auth = { token: rng.int(TOKEN_SPECS.length) };
    else if (how === 'mangled')
      auth = { token: rng.pick(GOOD_TOKENS), mangle: rng.pick(['suffix', 'lower', 'tab', 'trailing'] as const) };
    else if (how === 'raw') auth = { raw: rng.pick(RAW_AUTH) };
    if (kind === 'verdict' && rng.chance(0.12))
      headers['x-tenant-id'] =
        rng.chance(0.5) && auth && 'token' in auth ? (tenantOf(auth.token) ?? 'acme') : rng.pick(TENANT_HEADERS);
    if (kind === 'verdict' && rng.chance(0.08))
      headers['x-purpose'] = rng.pick(['fraud_detection', 'marketing', '', 'x'.repeat(200)]);
  }
  return { index, kind, route, auth, headers, body: Buffer.isBuffer(body) ? body : body.toBuffer() };
}

// `{"input": <random JSON>}`, sometimes with other members, sometimes not an object.
function dataBody(rng: Rng): RawBody {
  const out = new RawBody();
  const shape = rng.weighted({ input: 80, extra: 8, empty: 3, bare: 9 });
  if (shape === 'bare') {
    writeValue(rng, out);
    return out;
  }
  out.text('{');
  if (shape !== 'empty') {
    out.text('"input":');
    writeValue(rng, out);
  }
  if (shape === 'extra') {
    out.text(',');
    writeString(rng, out);
    out.text(':');
    writeValue(rng, out, { ...DEFAULT_JSON, depth: 2 });
  }
  out.text('}');
  return out;
}

// A string field value from a pool (pool entries are JSON string content, escapes included).
function poolString(out: RawBody, pool: readonly string[], rng: Rng): void {
  out.text(`"${rng.pick(pool)}"`);
}

// A value for a field: mostly one of `pool`, sometimes any JSON value.
function field(rng: Rng, out: RawBody, pool: readonly string[], odd = 0.15): void {
  if (rng.chance(odd)) writeValue(rng, out, { ...DEFAULT_JSON, depth: 3 });
  else if (rng.chance(0.1)) writeString(rng, out);
  else poolString(out, pool, rng);
}

// Members of an object, each present with probability p, in random order, sometimes repeated or joined by unknown ones.
function members(rng: Rng, out: RawBody, writers: ReadonlyArray<readonly [string, () => void]>, p: number): void {
  const chosen = writers.filter(() => rng.chance(p));
  for (let i = chosen.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const a = chosen[i];
    const b = chosen[j];
    if (a && b) [chosen[i], chosen[j]] = [b, a];
  }
  if (chosen.length > 0 && rng.chance(0.04)) chosen.push(rng.pick(chosen)); // a duplicate key: JSON.parse keeps the last
  let first = true;
  const comma = (): void => {
    if (!first) out.text(',');
    first = false;
  };
  for (const [name, write] of chosen) {
    comma();
    out.text(`"${name}":`);
    write();
  }
  if (rng.chance(0.08)) {
    for (let i = 1 + rng.int(3); i > 0; i--) {
      comma();
      writeString(rng, out);
      out.text(':');
      writeValue(rng, out, { ...DEFAULT_JSON, depth: 2 });
    }
  }
}

// An authz-shaped input: {user: {name, roles, tenant}, action, resource: {tenant}}, with odd values.
function authzBody(rng: Rng): RawBody {
  const out = new RawBody().text('{"input":{');
  members(
    rng,
    out,
    [
      [
        'user',
        () => {
          out.text('{');
          members(
            rng,
            out,
            [
              ['name', () => field(rng, out, SUBJECTS)],
              [
                'roles',
                () => {
                  if (rng.chance(0.1)) return writeValue(rng, out, { ...DEFAULT_JSON, depth: 2 });
                  out.text('[');
                  for (let i = rng.int(4); i > 0; i--) {
                    field(rng, out, ROLES, 0.1);
                    if (i > 1) out.text(',');
                  }
                  out.text(']');
                },
              ],
              ['tenant', () => field(rng, out, TENANTS)],
            ],
            0.85,
          );
          out.text('}');
        },
      ],
      ['action', () => field(rng, out, ['read', 'write', 'delete', 'READ', '', '\\ud800', 'x'.repeat(1000)])],
      [
        'resource',
        () => {
          out.text('{"tenant":');
          field(rng, out, TENANTS);
          out.text('}');
        },
      ],
    ],
    0.85,
  );
  return out.text('}}');
}

// A verdict context: the six field names with random values, sometimes more members; the tenant often the token's.
// Half are plausible (the required fields there, values mostly ordinary) so that many reach the policy.
function verdictBody(rng: Rng, auth: Auth): RawBody {
  const out = new RawBody();
  if (rng.chance(0.03)) {
    writeValue(rng, out);
    return out;
  }
  const tokenTenant = auth && 'token' in auth ? tenantOf(auth.token) : undefined;
  const plausible = rng.chance(0.5);
  const odd = plausible ? 0.03 : 0.15;
  const ordinary = (pool: readonly string[], n: number): readonly string[] =>
    plausible && rng.chance(0.8) ? pool.slice(0, n) : pool;
  out.text('{');
  members(
    rng,
    out,
    [
      [
        'tenant',
        () =>
          tokenTenant !== undefined && rng.chance(0.6) ? out.text(`"${tokenTenant}"`) : field(rng, out, TENANTS, odd),
      ],
      ...(plausible && rng.chance(0.7) ? [] : [['subject', () => field(rng, out, SUBJECTS, odd)] as const]),
      ['module', () => field(rng, out, ordinary(MODULES, 4), odd)],
      ['action', () => field(rng, out, ordinary(ACTIONS, 9), odd)],
      [
        'resource',
        () =>
          rng.chance(0.5)
            ? out.text(`"${tokenTenant ?? 'acme'}/invoices/${rng.int(100)}"`)
            : field(rng, out, ['globex/x/1', 'acme-corp/1', '', 'x'.repeat(1024), 'x'.repeat(1025), '\\ud800/1'], odd),
      ],
      ['purpose', () => field(rng, out, ordinary(PURPOSES, 4), odd)],
    ],
    plausible ? 0.9 : 0.7,
  );
  return out.text('}');
}

// A valid body cut short, or with one byte changed.
function mangled(rng: Rng, route: Route): Buffer {
  const whole =
    route === 'verdict'
      ? verdictBody(rng, { token: 0 }).toBuffer()
      : rng.chance(0.5)
        ? dataBody(rng).toBuffer()
        : authzBody(rng).toBuffer();
  if (whole.length === 0) return whole;
  if (rng.chance(0.5)) return whole.subarray(0, rng.int(whole.length));
  const copy = Buffer.from(whole);
  copy[rng.int(copy.length)] = rng.int(256);
  return copy;
}

// The body of a deep, sized or malformed case.
function cornerBody(rng: Rng, c: Corner): Buffer {
  if (c.kind === 'malformed') return c.body;
  const out = new RawBody();
  // Where the value goes: `input` of the data API, a context field (`resource`) of a verdict.
  const [head, tail] =
    c.route === 'verdict' ? ['{"module":"billing","action":"read","resource":', '}'] : ['{"input":', '}'];
  out.text(head);
  if (c.kind === 'deep') {
    writeDeep(out, c.depth, c.shape, rng.pick(['1', '"\\ud800"', 'null', '{}', '[]']));
    return out.text(tail).toBuffer();
  }
  const room = c.size - head.length - tail.length; // bytes for the value, padded with JSON whitespace to the exact size
  const value = new RawBody();
  switch (c.fill) {
    case 'string':
      value.text(`"${'x'.repeat(Math.max(0, room - 2))}"`);
      break;
    case 'escapes':
      value.text(`"${'\\u0000\\ud800\\n'.repeat(Math.max(0, Math.floor((room - 2) / 14)))}"`);
      break;
    case 'nonbmp':
      value.text(`"${'😀'.repeat(Math.max(0, Math.floor((room - 2) / 4)))}"`);
      break;
    case 'array':
      value.text(`[${'0,'.repeat(Math.max(0, Math.floor((room - 3) / 2)))}0]`);
      break;
    case 'object': {
      const parts: string[] = [];
      let used = 2;
      for (let i = 0; ; i++) {
        const m = `${i === 0 ? '' : ','}"k${i}":${i}`;
        if (used + m.length > room) break;
        parts.push(m);
        used += m.length;
      }
      value.text(`{${parts.join('')}}`);
      break;
    }
    default: {
      const unreachable: never = c.fill;
      throw new Error(`no fill ${String(unreachable)}`);
    }
  }
  out.bytes(value.toBuffer());
  if (room > value.length) out.text(' '.repeat(room - value.length));
  return out.text(tail).toBuffer();
}

// ---------------------------------------------------------------------------
// Sending and judging.

/** The Authorization header of a case. */
function authorization(auth: Auth, tokens: readonly string[]): string | undefined {
  if (auth === undefined) return undefined;
  if ('raw' in auth) return auth.raw;
  const token = tokens[auth.token] ?? '';
  switch (auth.mangle) {
    case undefined:
      return `Bearer ${token}`;
    case 'suffix':
      return `Bearer ${token}x`;
    case 'lower':
      return `bearer ${token}`;
    case 'tab':
      return `Bearer\t${token}`;
    case 'trailing':
      return `Bearer ${token} extra`;
    default: {
      const unreachable: never = auth.mangle;
      throw new Error(`no mangle ${String(unreachable)}`);
    }
  }
}

/** Keep-alive connections, as many as there are requests in flight (node:http costs the client far less CPU than fetch). */
const pool = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

/**
 * Sends a case. The server closes a keep-alive connection after some refusals
 * (e.g. 431), and the next request on it can fail with ECONNRESET before the
 * close is seen (Node's documentation advises retrying on a reused socket).
 * So a request reset before any answer is retried once on a new connection:
 * if the retry is answered, the reset was collateral and is only counted
 * (`retried`); if it fails too, the input itself breaks the connection and
 * that is the outcome.
 */
async function send(url: string, c: Case, tokens: readonly string[]): Promise<Outcome & { retried: boolean }> {
  const target = new URL(c.route === 'verdict' ? '/v1/verdict' : `/v1/data/${c.route}`, url);
  const headers: Record<string, string | number> = { ...c.headers, 'content-length': c.body.length };
  const auth = authorization(c.auth, tokens);
  if (auth !== undefined) headers['authorization'] = auth;
  const once = (agent: Agent | false): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        target,
        { method: 'POST', headers, agent, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(c.body);
    });
  const started = performance.now();
  let retried = false;
  try {
    let answer;
    try {
      answer = await once(pool);
    } catch (err) {
      const e = err as Error & { code?: unknown };
      if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') throw err;
      retried = true;
      answer = await once(false);
    }
    return { ...answer, ms: performance.now() - started, retried };
  } catch (err) {
    return { status: 0, text: '', error: describeError(err), ms: performance.now() - started, retried };
  }
}

// "Error: write EPIPE (EPIPE)".
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as Error & { code?: unknown }).code;
  return `${err.name}: ${err.message}${typeof code === 'string' ? ` (${code})` : ''}`;
}

/** Why an outcome breaks the contract, or undefined when it keeps it. */
function judge(o: Outcome): { status: number; code: string; message: string } | undefined {
  if (o.error !== undefined) return { status: 0, code: '(no response)', message: o.error };
  let parsed: unknown;
  try {
    parsed = JSON.parse(o.text);
  } catch {
    parsed = undefined;
  }
  const obj =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  // OPA's routes answer OPA's code in `code` and Warden's in `warden_code`.
  const wardenCode = obj?.warden_code ?? obj?.code;
  const code = typeof wardenCode === 'string' ? wardenCode : undefined;
  const message = typeof obj?.message === 'string' ? obj.message : o.text.slice(0, 200);
  if (o.status >= 500) return { status: o.status, code: code ?? '(no code)', message };
  if (o.status >= 400) {
    if (obj === undefined)
      return { status: o.status, code: '(body not a JSON object)', message: o.text.slice(0, 200) || '(empty body)' };
    if (code === undefined) return { status: o.status, code: '(no code)', message };
    if (!Object.hasOwn(ERROR_CODES, code)) return { status: o.status, code: `(unregistered) ${code}`, message };
    return undefined;
  }
  if (o.status >= 200 && o.status < 300)
    return obj === undefined
      ? { status: o.status, code: '(2xx body not a JSON object)', message: o.text.slice(0, 200) }
      : undefined;
  return { status: o.status, code: '(unexpected status)', message };
}

// The headers and credentials of a case, for a report.
function describeRequest(c: Case): string {
  const auth = c.auth;
  const who =
    auth === undefined
      ? 'no Authorization'
      : 'raw' in auth
        ? `Authorization ${JSON.stringify(auth.raw.slice(0, 48))}${auth.raw.length > 48 ? `… (${auth.raw.length} chars)` : ''}`
        : `token #${auth.token} ${JSON.stringify(TOKEN_SPECS[auth.token]?.claims).slice(0, 100)}${TOKEN_SPECS[auth.token]?.special ? ` (${TOKEN_SPECS[auth.token]?.special})` : ''}${auth.mangle ? ` mangled: ${auth.mangle}` : ''}`;
  return `${who}, headers ${JSON.stringify(c.headers)}`;
}

// Messages that differ only in numbers (positions, lengths) are one class.
const shapeOf = (message: string): string => message.replace(/\d+/g, 'N').slice(0, 120);

function describeClass(f: FailureClass, i: number): string {
  return [
    `[${i + 1}] ${f.status} ${f.code} × ${f.count}: ${JSON.stringify(f.message.slice(0, 200))}`,
    `    routes: ${[...f.routes].join(', ')}; kinds: ${[...f.kinds].join(', ')}; cases: ${f.cases.map((c) => `#${c}`).join(', ')}${f.count > f.cases.length ? ', …' : ''}`,
    `    smallest body (case #${f.smallest.index}, POST ${f.smallest.route}, ${f.smallest.body.length} bytes, ${describeRequest(f.smallest)}; WARDEN_FUZZ_SEED=${SEED_TEXT} WARDEN_FUZZ_CASE=${f.smallest.index}):`,
    `    ${showBytes(f.smallest.body)}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------
// The agent's memory, read from /proc.

async function rssKiB(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m?.[1], `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** CPU seconds (user + system) the process has used, assuming the usual 100 clock ticks a second. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * RSS once it stops moving: sampled every 100 ms until the last second of
 * samples spans less than 2 %, or `timeoutMs` passed (then the last sample).
 */
async function settledRss(
  pid: number,
  timeoutMs: number,
): Promise<{ kib: number; settled: boolean; samples: number[] }> {
  const samples: number[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    samples.push(await rssKiB(pid));
    const window = samples.slice(-10);
    const steady = window.length === 10 && Math.max(...window) - Math.min(...window) <= 0.02 * Math.min(...window);
    if (steady) return { kib: samples[samples.length - 1] ?? 0, settled: true, samples };
    if (Date.now() >= end) return { kib: samples[samples.length - 1] ?? 0, settled: false, samples };
    await sleep(100);
  }
}

/** Samples RSS every 100 ms (a sampling interval, not a wait for an event) until it is at most `limit` KiB (true) or `timeoutMs` passed (false). */
async function rssReturnsTo(
  pid: number,
  limit: number,
  timeoutMs: number,
): Promise<{ ok: boolean; samples: number[]; ms: number }> {
  const started = Date.now();
  const samples: number[] = [];
  for (;;) {
    const kib = await rssKiB(pid);
    samples.push(kib);
    if (kib <= limit) return { ok: true, samples, ms: Date.now() - started };
    if (Date.now() - started >= timeoutMs) return { ok: false, samples, ms: Date.now() - started };
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------

describe('agent HTTP API input fuzz', { timeout: 120_000 }, () => {
  let proc: WardenProcess;
  let url = '';
  let tokens: string[] = [];
  let exitedWith: number | undefined;

  before(async () => {
    const key = p256();
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs, { recursive: true });
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    const authz = await buildPack({ dir: join(examples, 'authz'), sequence: 1, now: new Date('2026-11-22T00:00:00Z') });
    await publish(packs, 'authz', authz.bytes, key.privateKey);
    await publish(packs, 'governance', await governancePack(1), key.privateKey);
    await publish(packs, 'killswitches', await killSwitchPack(1, EXAMPLE_SWITCHES), key.privateKey);

    // Tenant JWTs: one signing key in the JWKS, another one outside it.
    const signing = await generateKeyPair('ES256', { extractable: true });
    const stranger = await generateKeyPair('ES256', { extractable: true });
    await writeFile(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
    );
    tokens = await Promise.all(
      TOKEN_SPECS.map((spec) => mint(spec, spec.special === 'other-key' ? stranger.privateKey : signing.privateKey)),
    );

    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      governanceYaml({
        packs: [
          '  - name: authz',
          '    source: { file: { path: packs/authz.tar.gz, poll_seconds: 1 } }',
          '    verify: { public_keys: [policy.pub] }',
        ],
        killSwitchSource: '{ file: { path: packs/killswitches.tar.gz, poll_seconds: 1 } }',
        extra: [
          '  tenants:',
          `    issuer: ${ISSUER}`,
          `    audience: ${AUDIENCE}`,
          '    algorithms: [ES256]',
          '    jwks_file: jwks.json',
          'decision_log: { dir: decisions }',
          // The limit LIMIT_SIZES probe around (the default is OPA's 256 MiB).
          `limits: { max_body_bytes: ${MAX_BODY_BYTES} }`,
        ],
      }),
    );
    ({ proc, url } = await startAgentProcess(config));
    void proc.exited.then((code) => {
      exitedWith = code;
    });
    const health = (await (await fetch(`${url}/healthz`)).json()) as { governance: { kill_switches_loaded: boolean } };
    assert.equal(
      health.governance.kill_switches_loaded,
      true,
      'the example kill-switch state is loaded, so only its blocked modules are blocked',
    );
  });

  after(async () => {
    pool.destroy();
    await WardenProcess.killAll();
  });

  it('builds the same cases from the same seed, and other cases from another', () => {
    const show = (c: Case): string => JSON.stringify({ ...c, body: c.body.toString('hex') });
    for (const i of [0, 1, CORNERS.length, CORNERS.length + 1, WARM_UP, CASES - 1])
      assert.equal(show(caseAt(i)), show(caseAt(i)), `case ${i}`);
    const other = caseRng(SEED + 1, CORNERS.length);
    assert.notEqual(caseRng(SEED, CORNERS.length).next(), other.next());
  });

  if (ONLY_CASE !== undefined) {
    it(`case #${ONLY_CASE} of seed ${SEED_TEXT}`, async () => {
      const c = caseAt(ONLY_CASE);
      const o = await send(url, c, tokens);
      console.log(
        [
          `case #${c.index} (${c.kind}) POST ${c.route} headers ${JSON.stringify(c.headers)} auth ${JSON.stringify(c.auth)?.slice(0, 120)}`,
          `body (${c.body.length} bytes): ${showBytes(c.body, 4096)}`,
          `answer: ${o.status} in ${o.ms.toFixed(1)} ms ${o.error ?? o.text.slice(0, 2000)}`,
        ].join('\n'),
      );
      const bad = judge(o);
      assert.equal(bad, undefined, bad && `${bad.status} ${bad.code}: ${bad.message}`);
      assert.equal(exitedWith, undefined, 'the agent exited');
    });
    return;
  }

  it(`${CASES} seeded cases: no 5xx, every 4xx a registered code, the agent alive, memory back within ${RSS_TOLERANCE * 100} % of the warm-up`, async (t) => {
    console.log(
      `input fuzz: seed ${SEED_TEXT} (WARDEN_FUZZ_SEED overrides), ${CASES} cases (${CORNERS.length} fixed corner cases first), ${IN_FLIGHT} in flight`,
    );
    const classes = new Map<string, FailureClass>();
    let retries = 0;
    const dropped: Case[] = []; // bodies over the limit whose connection was closed before the refusal (400 on OPA routes, 413 elsewhere) was read
    const slow: Array<{ index: number; ms: number; kind: string; route: Route; bytes: number; status: number }> = [];
    const statuses = new Map<string, number>();
    const timeByKind = new Map<string, { n: number; ms: number }>();
    let ran = 0;
    const started = Date.now();

    // Runs cases [from, to) with IN_FLIGHT workers; stops early if the agent exits or the budget is spent.
    const run = async (from: number, to: number): Promise<void> => {
      let next = from;
      const worker = async (): Promise<void> => {
        while (next < to && exitedWith === undefined && Date.now() - started < FUZZ_BUDGET_MS) {
          const c = caseAt(next++);
          const o = await send(url, c, tokens);
          ran++;
          if (o.retried) retries++;
          const spent = timeByKind.get(c.kind) ?? { n: 0, ms: 0 };
          timeByKind.set(c.kind, { n: spent.n + 1, ms: spent.ms + o.ms });
          const label = `${c.route === 'verdict' ? 'verdict' : 'data'} ${o.status}`;
          statuses.set(label, (statuses.get(label) ?? 0) + 1);
          if (o.ms > SLOW_MS)
            slow.push({
              index: c.index,
              ms: o.ms,
              kind: c.kind,
              route: c.route,
              bytes: c.body.length,
              status: o.status,
            });
          if (o.error !== undefined && c.body.length > MAX_BODY_BYTES) {
            dropped.push(c);
            continue;
          }
          const bad = judge(o);
          if (!bad) continue;
          const key = `${bad.status} ${bad.code} ${shapeOf(bad.message)}`;
          const f = classes.get(key);
          if (!f) {
            classes.set(key, {
              ...bad,
              count: 1,
              routes: new Set([c.route]),
              kinds: new Set([c.kind]),
              cases: [c.index],
              smallest: c,
            });
            continue;
          }
          f.count++;
          f.routes.add(c.route);
          f.kinds.add(c.kind);
          if (f.cases.length < 8) f.cases.push(c.index);
          if (c.body.length < f.smallest.body.length) f.smallest = c;
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    };

    const pid = proc.child.pid;
    assert.ok(pid !== undefined, 'the agent has a pid');
    await run(0, WARM_UP);
    const warmedAt = Date.now();
    // The baseline: RSS after the warm-up (which ran the deepest and largest bodies) has stopped moving.
    const baseline = await settledRss(pid, 3_000);
    const fuzzStarted = Date.now();
    const cpuBefore = await cpuSeconds(pid);
    const ownCpuBefore = process.cpuUsage();
    await run(WARM_UP, CASES);
    const fuzzMs = Date.now() - fuzzStarted;
    const agentCpu = exitedWith === undefined ? (await cpuSeconds(pid)) - cpuBefore : Number.NaN;
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const peak = exitedWith === undefined ? await rssKiB(pid) : Number.NaN;
    const limit = Math.round(baseline.kib * (1 + RSS_TOLERANCE));
    const back =
      exitedWith === undefined ? await rssReturnsTo(pid, limit, RSS_RETURN_MS) : { ok: false, samples: [], ms: 0 };

    const sorted = [...classes.values()].sort((a, b) => b.count - a.count);
    const failed = sorted.reduce((n, f) => n + f.count, 0);
    const report = [
      `input fuzz: seed ${SEED_TEXT}: ${ran} of ${CASES} cases ran (warm-up ${Math.round((warmedAt - started) / 1000)} s, fuzz ${Math.round(fuzzMs / 1000)} s, CPU in the fuzz: agent ${agentCpu.toFixed(1)} s, this test ${((ownCpu.user + ownCpu.system) / 1e6).toFixed(1)} s); ${failed} broke the contract in ${sorted.length} classes`,
      `time by kind (requests, summed latency): ${[...timeByKind].map(([k, v]) => `${k} ${v.n} ${Math.round(v.ms)} ms`).join(', ')}`,
      `answers: ${[...statuses]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
      ...sorted.map(describeClass),
      `bodies over ${MAX_BODY_BYTES} bytes refused by a closed connection instead of a readable refusal (reported, not failed): ${dropped.length}${
        dropped.length
          ? ` (cases ${dropped
              .slice(0, 8)
              .map((c) => `#${c.index} ${c.body.length} B`)
              .join(', ')})`
          : ''
      }`,
      `requests reset before an answer and answered when retried on a new connection (not failed): ${retries}`,
      `slow answers (> ${SLOW_MS} ms): ${
        slow.length === 0
          ? 'none'
          : slow
              .sort((a, b) => b.ms - a.ms)
              .slice(0, 10)
              .map((s) => `#${s.index} ${s.kind} ${s.route} ${s.bytes} B → ${s.status} in ${Math.round(s.ms)} ms`)
              .join('; ')
      }`,
      `RSS: ${baseline.kib} KiB after the warm-up (${baseline.settled ? 'settled' : 'not settled'} after ${baseline.samples.length} samples), ${peak} KiB at the end of the fuzz, ` +
        `bound ${limit} KiB: ${back.ok ? `back under it after ${back.ms} ms` : `still ${back.samples[back.samples.length - 1] ?? '?'} KiB after ${back.ms} ms`}`,
      `agent: ${exitedWith === undefined ? 'running' : `EXITED with ${exitedWith}; last output:\n${proc.output.slice(-20).join('\n')}`}`,
    ].join('\n');
    console.log(report);
    const errorLogs = proc.logs().filter((l) => typeof l.level === 'number' && l.level >= 50);
    if (errorLogs.length > 0)
      t.diagnostic(`agent error log lines: ${errorLogs.length}, first: ${JSON.stringify(errorLogs[0]).slice(0, 300)}`);

    assert.equal(exitedWith, undefined, `the agent exited during the fuzz\n${report}`);
    assert.equal(ran, CASES, `only ${ran} of ${CASES} cases ran within ${FUZZ_BUDGET_MS} ms\n${report}`);
    assert.deepEqual(
      sorted.map((f) => `${f.status} ${f.code} × ${f.count}`),
      [],
      `answers broke the contract (no 5xx, an answer to every body within the limit, every 4xx a JSON body with a registered code)\n${report}`,
    );
    assert.ok(
      back.ok,
      `RSS did not come back within ${RSS_TOLERANCE * 100} % of ${baseline.kib} KiB in ${RSS_RETURN_MS} ms: ${back.samples.join(', ')}`,
    );
  });

  it('still answers the example decisions correctly afterwards', async () => {
    assert.equal(exitedWith, undefined, 'the agent exited');
    const allow = await fetch(`${url}/v1/data/authz/allow`, {
      method: 'POST',
      body: JSON.stringify({
        input: { user: { name: 'ada', roles: ['admin'] }, action: 'delete', resource: { tenant: 'acme' } },
      }),
    });
    assert.deepEqual(((await allow.json()) as { result: unknown }).result, true);
    const reasons = await fetch(`${url}/v1/data/authz/reasons`, {
      method: 'POST',
      body: JSON.stringify({
        input: {
          user: { name: 'vic', roles: ['viewer'], tenant: 'acme' },
          action: 'delete',
          resource: { tenant: 'acme' },
        },
      }),
    });
    assert.deepEqual(((await reasons.json()) as { result: unknown }).result, ['role viewer may not delete']);
    const acmeAlice = TOKEN_SPECS.findIndex(
      (s) =>
        s.claims['tenant'] === 'acme' &&
        s.claims.sub === 'alice' &&
        s.special === undefined &&
        Object.keys(s.claims).length === 2,
    );
    const verdict = await fetch(`${url}/v1/verdict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[acmeAlice] ?? ''}` },
      body: JSON.stringify({ module: 'billing', action: 'read', resource: 'acme/invoices/1' }),
    });
    const body = (await verdict.json()) as { allow: unknown; reasons: unknown };
    assert.equal(verdict.status, 200, JSON.stringify(body));
    assert.deepEqual([body.allow, body.reasons], [true, []]);
  });
});

// A token for `spec`, signed by `key` (ES256, kid k1); iat/exp relative to now.
function mint(spec: TokenSpec, key: CryptoKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const times =
    spec.special === 'expired'
      ? { iat: now - 600, exp: now - 300 }
      : spec.special === 'not-before'
        ? { iat: now, nbf: now + 3600, exp: now + 7200 }
        : { iat: now, exp: now + 3600 };
  return new SignJWT({ ...spec.claims, ...times })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(spec.special === 'issuer' ? 'https://other.test' : ISSUER)
    .setAudience(spec.special === 'audience' ? 'someone-else' : AUDIENCE)
    .sign(key);
}
