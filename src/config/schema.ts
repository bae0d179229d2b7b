/**
 * The agent configuration (docs/configuration.md): one zod schema validates, defaults and
 * (in load.ts) freezes it. The fixed keys (listen, data_dir, packs) never change; Warden's own additions sit
 * beside them (history_limit, log_level, opa_path, limits, signature_url …).
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../notify/events.js';
import { DEFAULT_PACK_LIMITS } from '../pack/limits.js';
import { PACK_NAME_PATTERN, PACK_NAME_RULE } from '../pack/name.js';

const seconds = (min: number, max: number) => z.number().min(min).max(max);
const listen = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'HOST:PORT, e.g. 127.0.0.1:8181');

const rulePath = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/,
    'a slash-separated rule path like "governance/verdict"',
  );
const packName = z.string().regex(PACK_NAME_PATTERN, PACK_NAME_RULE);

const tlsSchema = z
  .strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
  })
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), 'cert_file and key_file go together');

/** The poll interval of a remote source (`http`, `oci`, `s3`): jittered between the two (src/source/poll-loop.ts). */
const pollKeys = {
  poll_min_seconds: seconds(0.01, 86_400).default(10),
  poll_max_seconds: seconds(0.01, 86_400).default(20),
};

/** A remote source's request deadline, retry cap and size limit. */
const requestKeys = {
  timeout_seconds: seconds(0.1, 600).default(10),
  backoff_max_seconds: seconds(0.1, 86_400).default(300),
  /** Largest pack (body, layer, object) accepted; default (and at most): limits.max_pack_bytes. */
  max_bytes: z
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .optional(),
};

/** The extra CA of an `oci` or `s3` source (`http` has its `tls` block). */
const caFileKey = {
  /** A PEM bundle trusted for the endpoint (a private CA); for `oci` also for the registry's token realm. */
  ca_file: z.string().min(1).optional(),
};

/** The refinement every remote source has: a poll interval range the right way round. */
const pollOrdered = (p: { poll_min_seconds: number; poll_max_seconds: number }): boolean =>
  p.poll_max_seconds >= p.poll_min_seconds;
const pollOrderIssue = { message: 'poll_max_seconds must be ≥ poll_min_seconds', path: ['poll_max_seconds'] };

const httpSource = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }),
    signature_url: z.url({ protocol: /^https?$/ }).optional(),
    ...pollKeys,
    long_poll_seconds: seconds(0, 3_600).default(0),
    ...requestKeys,
    tls: tlsSchema.optional(),
  })
  .refine(pollOrdered, pollOrderIssue);

const ociAuth = z.union([
  z.strictObject({ username_file: z.string().min(1), password_file: z.string().min(1) }),
  z.strictObject({ token_file: z.string().min(1) }),
]);

const ociSource = z
  .strictObject({
    /** registry/repository:tag or registry/repository@sha256:<hex> (src/source/oci/reference.ts). */
    reference: z.string().min(3),
    /** None: anonymous (a registry's bearer challenge is still answered, with an anonymous token). */
    auth: ociAuth.optional(),
    /** Plain HTTP (a registry on 127.0.0.1); HTTPS otherwise. */
    insecure_http: z.boolean().default(false),
    ...caFileKey,
    ...pollKeys,
    ...requestKeys,
  })
  .refine(pollOrdered, pollOrderIssue);

/** `source.s3`: an object in an S3-compatible bucket (AWS S3, MinIO …), requests signed with SigV4 by the AWS SDK. */
const s3Source = z
  .strictObject({
    /** Default: AWS S3's endpoint for the region. MinIO and other stores: their URL. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    bucket: z.string().min(3).max(63),
    key: z.string().min(1).max(1024),
    /** Default `<key>.sigstore.json`, beside the pack. */
    signature_key: z.string().min(1).max(1024).optional(),
    region: z.string().min(1).max(64),
    /** `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key`: MinIO and most self-hosted stores need it. */
    force_path_style: z.boolean().default(false),
    /** Files holding the keys (read at every fetch, so a rotated Secret is picked up); absent: the AWS SDK's default provider chain. */
    credentials: z
      .strictObject({
        access_key_id_file: z.string().min(1),
        secret_access_key_file: z.string().min(1),
        session_token_file: z.string().min(1).optional(),
      })
      .optional(),
    ...caFileKey,
    ...pollKeys,
    ...requestKeys,
  })
  .refine(pollOrdered, pollOrderIssue)
  .refine((s) => (s.signature_key ?? `${s.key}.sigstore.json`) !== s.key, {
    message: 'signature_key must differ from key',
    path: ['signature_key'],
  });

const fileSource = z.strictObject({
  path: z.string().min(1),
  signature_path: z.string().min(1).optional(),
  poll_seconds: seconds(0.05, 3_600).default(2),
});

const directorySource = z.strictObject({
  path: z.string().min(1),
  /** Used when the folder has no warden.yaml (a ConfigMap of bare Rego). */
  entrypoints: z
    .array(
      z
        .string()
        .regex(
          /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/,
          'a slash-separated rule path like "priority/priority"',
        ),
    )
    .min(1)
    .max(64)
    .optional(),
  rego_version: z.enum(['v0', 'v1']).default('v1'),
  debounce_ms: z.int().min(0).max(60_000).default(200),
  rescan_seconds: seconds(0.1, 3_600).default(10),
});

const sourceSchema = z
  .strictObject({
    http: httpSource.optional(),
    oci: ociSource.optional(),
    s3: s3Source.optional(),
    file: fileSource.optional(),
    directory: directorySource.optional(),
  })
  .refine(
    (s) => [s.http, s.oci, s.s3, s.file, s.directory].filter((x) => x !== undefined).length === 1,
    'exactly one of http, oci, s3, file, directory',
  );

const verifySchema = z
  .strictObject({
    public_keys: z.array(z.string().min(1)).min(1).max(32).optional(),
    keyless: z
      .strictObject({ trusted_root: z.string().min(1), issuer: z.string().min(1), subject_regex: z.string().min(2) })
      .optional(),
    unsigned: z.literal(true).optional(),
  })
  .refine(
    (v) => [v.public_keys, v.keyless, v.unsigned].filter((x) => x !== undefined).length === 1,
    'exactly one of public_keys, keyless, unsigned',
  );

/** Which engine answers a pack's decisions: the embedded wasm engine, or a real OPA process (docs/architecture.md#the-opa-engine). */
const engineKind = z.enum(['wasm', 'opa']);

/** `rollout.gate` — when a shadow is promoted or refused (docs/configuration.md#rollout-shadow-evaluation). */
const gateSchema = z.strictObject({
  /** Shadow decisions evaluated before the gate judges. */
  min_decisions: z.int().min(1).max(100_000_000).default(1000),
  /** Changed decisions (any outcome but unchanged) over evaluated ones at most, as a fraction: 0.01 is 1 %. */
  max_diff_rate: z.number().min(0).max(1).default(0.01),
  /** false: a single deny → allow refuses the shadow when the gate judges. */
  allow_deny_to_allow: z.boolean().default(false),
  /** true: a shadow whose gate holds is promoted at once; false: it waits for `warden promote`. */
  auto_promote: z.boolean().default(true),
});

/** `rollout:` — how a new verified version of the pack goes live: at once, or as a shadow first. */
const rolloutSchema = z.strictObject({
  mode: z.enum(['direct', 'shadow']).default('direct'),
  /** The share of the active pack's decisions also asked of the shadow (0 < sample ≤ 1). */
  sample: z.number().gt(0).max(1).default(0.1),
  /** Sampled decisions waiting for the shadow at most; past it the oldest is dropped (counted). */
  queue_limit: z.int().min(1).max(1_000_000).default(10_000),
  gate: gateSchema.prefault({}),
  /** Present: a shadow with fewer than gate.min_decisions after this long is refused. */
  max_duration_seconds: z
    .int()
    .min(1)
    .max(30 * 24 * 3600)
    .optional(),
  /** The shadow log of this pack (changed decisions with both answers) is rotated past this size; one older file is kept. */
  log_max_bytes: z
    .int()
    .min(4096)
    .max(2 ** 31)
    .default(16 * 2 ** 20),
});

const packSchema = z
  .strictObject({
    name: packName,
    source: sourceSchema,
    verify: verifySchema,
    /** Overrides the agent's `engine` for this pack. */
    engine: engineKind.optional(),
    /** Absent: mode direct (every verified version is activated at once). */
    rollout: rolloutSchema.optional(),
  })
  .refine((p) => p.verify.unsigned === undefined || p.source.directory !== undefined, {
    message: 'unsigned: true is allowed only for directory sources',
    path: ['verify', 'unsigned'],
  })
  .refine((p) => p.source.directory === undefined || p.verify.unsigned === true, {
    message: 'a directory of raw Rego carries no signature: use verify: { unsigned: true }',
    path: ['verify'],
  });

/** Kill-switch state polls every 30 s unless told otherwise (docs/design.md#governance). */
const KILL_SWITCH_POLL_SECONDS = 30;

// Fills the kill-switch source's poll interval before the http defaults (10–20 s) would.
function killSwitchPollDefaults(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const http = (raw as { http?: unknown }).http;
  if (typeof http !== 'object' || http === null) return raw;
  const h = http as Record<string, unknown>;
  const min = h.poll_min_seconds ?? (h.poll_max_seconds === undefined ? KILL_SWITCH_POLL_SECONDS : h.poll_max_seconds);
  return {
    ...raw,
    http: {
      ...h,
      poll_min_seconds: min,
      poll_max_seconds: h.poll_max_seconds ?? Math.max(KILL_SWITCH_POLL_SECONDS, Number(min) || 0),
    },
  };
}

const killSwitchSchema = z.strictObject({
  /** Its name in the store, history and admin API. */
  name: packName.default('killswitches'),
  source: z.preprocess(killSwitchPollDefaults, sourceSchema),
  verify: verifySchema,
  /** Returns `{<module>: {active: boolean, reason: string}}`; read once per activation, never per request. */
  entrypoint: rulePath.default('killswitch/state'),
});

/** `governance.tenants.revocation`: revoked jti/sid values read from Redis (docs/configuration.md#token-revocation). */
const revocationSchema = z
  .strictObject({
    redis: z.strictObject({
      /** redis://host:port[/db], or rediss:// for TLS. */
      url: z.url({ protocol: /^rediss?$/ }),
      username_file: z.string().min(1).optional(),
      password_file: z.string().min(1).optional(),
      tls: z.strictObject({ ca_file: z.string().min(1).optional() }).optional(),
    }),
    key_prefix: z.string().max(128).default('warden:'),
    /** A full read every this long (a notice on the channel is seen at once). */
    refresh_seconds: seconds(0.05, 300).default(60),
    /** What requests get once the list is stale: no choice is made for you. */
    on_stale: z.enum(['fail_open', 'fail_closed']),
    /** Stale when no full read has succeeded for this long (or ever, since start). */
    stale_after_seconds: seconds(0.1, 86_400).default(300),
  })
  .refine((r) => r.stale_after_seconds >= r.refresh_seconds, {
    message: 'stale_after_seconds must be ≥ refresh_seconds',
    path: ['stale_after_seconds'],
  })
  .refine((r) => r.redis.tls === undefined || r.redis.url.startsWith('rediss:'), {
    message: 'redis.tls needs a rediss:// url',
    path: ['redis', 'tls'],
  });

const tenantsSchema = z
  .strictObject({
    issuer: z.string().min(1),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(16)]),
    algorithms: z.array(z.string().min(1)).min(1).max(8),
    jwks_file: z.string().min(1).optional(),
    jwks_url: z.url({ protocol: /^https?$/ }).optional(),
    tenant_claim: z.string().min(1).max(128).default('tenant'),
    /** `required`: every request must also name its tenant in X-Tenant-ID. */
    tenant_header: z.enum(['optional', 'required']).default('optional'),
    clock_tolerance_seconds: seconds(0, 300).default(0),
    /** Verified tokens are not verified again for this long (0: every time); a removed key's tokens live this long at most. */
    token_cache_seconds: seconds(0, 3600).default(30),
    token_cache_entries: z.int().min(1).max(1_000_000).default(10_000),
    /** Refuse tokens whose jti or sid is revoked in Redis. */
    revocation: revocationSchema.optional(),
  })
  .refine((t) => (t.jwks_file === undefined) !== (t.jwks_url === undefined), 'exactly one of jwks_file, jwks_url');

const cacheSchema = z.strictObject({
  enabled: z.boolean().default(true),
  max_entries: z.int().min(1).max(10_000_000).default(10_000),
  ttl_seconds: seconds(0.001, 86_400).default(30),
});

const evidenceSchema = z.strictObject({
  /** Root of `<policy sha>/boot.json`. */
  dir: z.string().min(1).default('artifacts/governance/runtime'),
  /** true: no boot.json, no start (exit non-zero). false: log EVIDENCE_WRITE_FAILED, count, continue. */
  strict: z.boolean().default(false),
});

/** `governance.budget` (docs/configuration.md#decision-budget): the time per decision and the action past it. */
const budgetSchema = z.strictObject({
  /** The policy engine's time per decision, in ms. */
  verdict_ms: z.number().min(0.001).max(60_000),
  /**
   * Past it: warn (count, trace, log), fail_open (the `fail_open` answer for the path) or fail_closed
   * (503 DECISION_BUDGET_EXCEEDED). fail_* apply only to answers that come asynchronously (decision workers, engine: opa).
   */
  on_exceed: z.enum(['warn', 'fail_open', 'fail_closed']).default('warn'),
  /** fail_open: the answer by decision path; a path without one fails closed. */
  fail_open: z.record(rulePath, z.json()).default({}),
});

/** `tracing:` (README "Tracing"): decision spans for the OpenTelemetry SDK the host registers. */
const tracingSchema = z.strictObject({
  decisions: z
    .strictObject({
      /** The share of verdicts and data-API decisions traced, 0..1. */
      sample: z.number().min(0).max(1).default(0.01),
    })
    .default({ sample: 0.01 }),
  /** Put the decision's input on its span (`warden.input`); off by default: inputs may hold personal data. */
  include_input: z.boolean().default(false),
});

const governanceSchema = z.strictObject({
  /** The pack (in `packs:`) that answers verdicts. */
  pack: packName,
  verdict_entrypoint: rulePath.default('governance/verdict'),
  /** Returns `{<module>: {risk: "high" | "core"}}`: which modules start blocked before any kill-switch state loads. */
  modules_entrypoint: rulePath.default('governance/modules'),
  /** Written into boot.json; default $WARDEN_ENVIRONMENT, else $NODE_ENV, else "development". */
  environment: z.string().min(1).max(64).optional(),
  cache: cacheSchema.default(cacheSchema.parse({})),
  evidence: evidenceSchema.default(evidenceSchema.parse({})),
  kill_switches: killSwitchSchema.optional(),
  tenants: tenantsSchema.optional(),
  budget: budgetSchema.optional(),
});

/** Headers the shipper sets itself: a configured one would contradict the body or the token. */
const SHIP_RESERVED_HEADERS = new Set([
  'content-type',
  'content-encoding',
  'content-length',
  'host',
  'transfer-encoding',
]);

/** `decision_log.service`: a collector speaking OPA's decision-log service protocol. */
const decisionLogServiceSchema = z
  .strictObject({
    /** The service URL; batches are POSTed to <url><resource>, as OPA does. */
    url: z.url({ protocol: /^https?$/ }),
    resource: z
      .string()
      .regex(/^\/[^\s?#]*$/, 'a path starting with "/", e.g. /logs')
      .default('/logs'),
    /** A file holding the bearer token (`Authorization: Bearer …`), read for every upload. */
    token_file: z.string().min(1).optional(),
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name'), z.string()).optional(),
    /** Largest upload, gzipped (OPA's upload_size_limit_bytes). */
    batch_max_bytes: z
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(32 * 1024),
    batch_max_events: z.int().min(1).max(1_000_000).default(10_000),
    /** Once caught up, the next look is jittered between these (OPA's min/max_delay_seconds). */
    upload_interval: z
      .strictObject({
        min_delay_seconds: seconds(0.01, 86_400).default(5),
        max_delay_seconds: seconds(0.01, 86_400).default(10),
      })
      .refine((u) => u.max_delay_seconds >= u.min_delay_seconds, {
        message: 'max_delay_seconds must be ≥ min_delay_seconds',
        path: ['max_delay_seconds'],
      })
      .default({ min_delay_seconds: 5, max_delay_seconds: 10 }),
    timeout_seconds: seconds(0.1, 600).default(10),
    backoff_max_seconds: seconds(0.01, 86_400).default(60),
    tls: z.strictObject({ ca_file: z.string().min(1).optional() }).optional(),
    /** Unshipped bytes kept at most: past it the oldest are given up, counted. */
    queue_max_bytes: z
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024 * 1024)
      .default(128 * 1024 * 1024),
  })
  .refine((s) => Object.keys(s.headers ?? {}).every((h) => !SHIP_RESERVED_HEADERS.has(h.toLowerCase())), {
    message: 'headers may not set Content-Type, Content-Encoding, Content-Length, Host or Transfer-Encoding',
    path: ['headers'],
  })
  .refine(
    (s) => s.token_file === undefined || Object.keys(s.headers ?? {}).every((h) => h.toLowerCase() !== 'authorization'),
    { message: 'token_file and an Authorization header do not go together', path: ['headers'] },
  );

const decisionLogSchema = z.strictObject({
  /** Folder of the NDJSON files; default <data_dir>/decisions. */
  dir: z.string().min(1).optional(),
  queue_limit: z.int().min(1).max(10_000_000).default(10_000),
  batch_size: z.int().min(1).max(100_000).default(500),
  flush_interval_ms: z.int().min(1).max(600_000).default(1000),
  max_file_bytes: z
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(64 * 1024 * 1024),
  max_files: z.int().min(1).max(10_000).default(10),
  /** Present: the files are shipped to an OPA decision-log collector (docs/configuration.md#decision-log-shipping). */
  service: decisionLogServiceSchema.optional(),
});

const limitsSchema = z.strictObject({
  // Defaults are the reader's own (DEFAULT_PACK_LIMITS): one source for both.
  max_pack_bytes: z
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(DEFAULT_PACK_LIMITS.maxCompressedBytes),
  max_uncompressed_bytes: z
    .int()
    .min(1024)
    .max(4 * 1024 * 1024 * 1024)
    .default(DEFAULT_PACK_LIMITS.maxUncompressedBytes),
  max_files: z.int().min(1).max(1_000_000).default(DEFAULT_PACK_LIMITS.maxFiles),
  max_file_bytes: z
    .int()
    .min(1)
    .max(1024 * 1024 * 1024)
    .default(DEFAULT_PACK_LIMITS.maxFileBytes),
  /** How deeply a request body may nest arrays and objects (400 INPUT_TOO_DEEP past it); capped well below where the engine runs out of stack. */
  max_json_depth: z.int().min(2).max(2000).default(1000),
  /** Largest request body, in bytes after gzip inflation; OPA's default is 256 MiB. */
  max_body_bytes: z
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(256 * 1024 * 1024),
});

const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** File holding the HMAC-SHA256 key (at least 16 bytes). */
  secret_file: z.string().min(1),
  events: z.array(z.enum(EVENT_TYPES)).min(1).optional(),
  timeout_seconds: seconds(0.1, 600).default(10),
  max_attempts: z.int().min(1).max(100).default(6),
  backoff_base_seconds: seconds(0.01, 3_600).default(1),
  backoff_max_seconds: seconds(0.01, 86_400).default(60),
});

const eventsSchema = z.strictObject({
  /** Events kept in data_dir/events.ndjson for SSE replay. */
  max_events: z.int().min(10).max(1_000_000).default(1000),
  webhooks: z.array(webhookSchema).max(32).default([]),
});

const bootSchema = z.strictObject({
  /** With a verified pack in the store: how long boot waits for the source's first answer before serving (0: serve at once, ask in the background). */
  source_wait_seconds: seconds(0, 60).default(0),
});

/** JSON any value: the answer a decision gets when it fails open. */
const jsonValue: z.ZodType<unknown> = z.json();

/** `opa:` — how packs with `engine: opa` reach a real OPA (docs/configuration.md#the-opa-engine). */
const opaEngineSchema = z
  .strictObject({
    /** `child`: Warden starts and supervises the pinned opa; `connect`: an OPA already running (a sidecar). */
    mode: z.enum(['child', 'connect']).default('child'),
    /** connect: the OPA's base URL. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** Where Warden serves bundles and takes OPA's status reports (child: a free loopback port). */
    bundle_listen: listen.optional(),
    /** connect: a file holding the bearer token the OPA presents to the bundle endpoint (child: a fresh one per boot). */
    token_file: z.string().min(1).optional(),
    /** How long one decision may take in OPA before the on_timeout action. */
    decision_timeout_ms: z.int().min(1).max(60_000).default(100),
    /** Past the timeout: a coded 503 (fail_closed), or the configured answer (fail_open). */
    on_timeout: z.enum(['fail_closed', 'fail_open']).default('fail_closed'),
    /** fail_open: the answer per decision path (`authz/allow: true`); a path without one fails closed. */
    fail_open: z.record(rulePath, jsonValue).default({}),
    /** How long an activation waits for OPA to report the bundle active. */
    activation_timeout_seconds: seconds(1, 600).default(30),
  })
  .refine(
    (o) => o.mode !== 'connect' || (o.url !== undefined && o.bundle_listen !== undefined && o.token_file !== undefined),
    {
      message: 'mode: connect needs url, bundle_listen and token_file',
    },
  );

const adminSchema = z.strictObject({
  /** A file holding the bearer token; without it the admin API is off. */
  token_file: z.string().min(1).optional(),
});

export const configSchema = z
  .strictObject({
    listen: listen.default('127.0.0.1:8181'),
    data_dir: z.string().min(1).default('.warden'),
    opa_path: z.string().min(1).optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    history_limit: z.int().min(2).max(1000).default(10),
    /** The decision `POST /` answers, as OPA's default_decision (a path like /system/main). */
    default_decision: z
      .string()
      .regex(/^\/?[^\s/]+(\/[^\s/]+)*\/?$/, 'a path like /system/main')
      .default('/system/main'),
    /**
     * Worker threads that answer the data API's decisions ('auto': one per core available;
     * 0: on the main thread). The governance and kill-switch packs always stay on the main thread.
     */
    decision_workers: z.union([z.literal('auto'), z.int().min(0).max(64)]).default('auto'),
    /**
     * Processes that serve the HTTP data API on `listen` ('auto': one per core available; 1: this
     * process alone). With more than one, this process keeps fetch, verify, store and activation and
     * answers every other route behind them (docs/architecture.md, "Serving processes").
     */
    http_processes: z.union([z.literal('auto'), z.int().min(1).max(64)]).default(1),
    limits: limitsSchema.default(limitsSchema.parse({})),
    boot: bootSchema.default(bootSchema.parse({})),
    admin: adminSchema.default({}),
    events: eventsSchema.default(eventsSchema.parse({})),
    /** The engine of every pack that does not name its own; the governance and kill-switch packs always use wasm. */
    engine: engineKind.default('wasm'),
    opa: opaEngineSchema.optional(),
    packs: z.array(packSchema).min(1).max(64),
    governance: governanceSchema.optional(),
    tracing: tracingSchema.default(tracingSchema.parse({})),
    /** Present: every decision (data API and verdicts) is logged, off the request path. */
    decision_log: decisionLogSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.packs.forEach((p, i) => {
      if (seen.has(p.name))
        ctx.addIssue({ code: 'custom', message: `duplicate pack name "${p.name}"`, path: ['packs', i, 'name'] });
      seen.add(p.name);
    });
    c.packs.forEach((p, i) => {
      if (p.rollout?.mode === 'shadow' && (p.engine ?? c.engine) === 'opa')
        ctx.addIssue({
          code: 'custom',
          message: 'a shadow is evaluated by the embedded engine: rollout.mode shadow needs engine wasm',
          path: ['packs', i, 'rollout', 'mode'],
        });
    });
    if (c.http_processes !== 1)
      c.packs.forEach((p, i) => {
        if ((p.engine ?? c.engine) === 'opa')
          ctx.addIssue({
            code: 'custom',
            message: 'serving processes hold embedded engines: http_processes above 1 needs engine wasm on every pack',
            path: ['packs', i, 'engine'],
          });
        if (p.rollout?.mode === 'shadow')
          ctx.addIssue({
            code: 'custom',
            message: 'shadows are evaluated in one process: http_processes above 1 needs rollout.mode direct',
            path: ['packs', i, 'rollout', 'mode'],
          });
      });
    const g = c.governance;
    if (g && c.packs.some((p) => p.name === g.pack && p.engine === 'opa'))
      ctx.addIssue({
        code: 'custom',
        message: 'the governance pack answers verdicts in-process: it cannot use engine: opa',
        path: ['governance', 'pack'],
      });
    if (g && !seen.has(g.pack))
      ctx.addIssue({
        code: 'custom',
        message: `names no pack in packs: (${[...seen].join(', ')})`,
        path: ['governance', 'pack'],
      });
    if (g?.kill_switches && seen.has(g.kill_switches.name)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${g.kill_switches.name}" is already a pack name; the kill-switch pack needs its own`,
        path: ['governance', 'kill_switches', 'name'],
      });
    }
  });

/** The configuration as parsed (before paths are resolved). */
export type RawConfig = z.infer<typeof configSchema>;
/** One configured pack. */
export type PackConfig = RawConfig['packs'][number];
export type RolloutConfig = NonNullable<PackConfig['rollout']>;
/** The governance block. */
export type GovernanceConfig = NonNullable<RawConfig['governance']>;
/** The `opa:` block (engine: opa). */
export type OpaEngineConfig = NonNullable<RawConfig['opa']>;
/** The `tracing:` block. */
export type TracingConfig = RawConfig['tracing'];
/** The `governance.budget` block. */
export type BudgetConfig = NonNullable<GovernanceConfig['budget']>;
/** The decision-log block. */
export type DecisionLogConfig = NonNullable<RawConfig['decision_log']>;
