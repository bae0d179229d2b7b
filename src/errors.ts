/**
 * The one registry of Warden's error codes. Every code here is documented in
 * docs/errors.md (a test keeps the two in step) and appears verbatim in logs,
 * metric labels, /healthz and CLI output. Codes are never renamed or reused:
 * a retired code moves to RETIRED_CODES.
 */

/** What family a failure belongs to; decides the CLI exit status. */
export type ErrorKind =
  | 'usage' // the caller asked for something malformed
  | 'setup' // the machine or configuration is not ready (opa missing, bad trust config)
  | 'build' // a policy folder does not compile or fails its own tests
  | 'input' // fetched or supplied bytes are hostile or malformed
  | 'integrity' // a signature, digest or certificate does not check out
  | 'policy' // cryptographically valid, but not allowed by the trust policy
  | 'fetch' // a pack source (server, file) could not deliver
  | 'io'; // the disk or a child process failed

interface ErrorSpec {
  readonly kind: ErrorKind;
  /**
   * The HTTP status an agent answers with when this code ends a request: 400 for
   * most usage errors, 500 for anything that is not the caller's fault, and the
   * codes below that say more (401, 403, 404, 503). Two answers depend on where
   * the code is met, not on the code: a body over the size limit keeps Fastify's
   * 413 (DECISION_INPUT_INVALID), and the governance step answers
   * DECISION_PATH_UNKNOWN with 503 (its own pack is missing, not the caller's
   * path). HTTP_REQUEST_INVALID is answered by Node's parser with 400, 408 or 431.
   */
  readonly status: number;
  /** One line an operator can act on. */
  readonly hint: string;
}

export const ERROR_CODES = {
  USAGE: { kind: 'usage', status: 400, hint: 'run the command with --help' },
  INTERNAL: { kind: 'io', status: 500, hint: 'this is a bug in Warden; report it with the log line' },
  IO_FAILED: { kind: 'io', status: 500, hint: 'check the path exists and is readable/writable by this user' },

  OPA_NOT_FOUND: { kind: 'setup', status: 500, hint: 'run `npm run install-opa`, or set WARDEN_OPA to an opa binary' },
  OPA_VERSION_MISMATCH: {
    kind: 'setup',
    status: 500,
    hint: 'run `npm run install-opa` to install the pinned opa version',
  },
  OPA_FAILED: { kind: 'io', status: 500, hint: 'opa exited unexpectedly; its stderr is in the message' },
  OPA_BUNDLE_REFUSED: {
    kind: 'build',
    status: 500,
    hint: "the OPA engine refused the pack's bundle (details.errors has OPA's own errors) and keeps answering from the previous revision; fix the policy so `opa run` loads it",
  },
  OPA_ACTIVATION_TIMEOUT: {
    kind: 'io',
    status: 500,
    hint: 'the OPA engine did not report the revision active in time; the previous revision keeps answering; check the opa log lines and that OPA reaches the bundle endpoint',
  },
  OPA_UNAVAILABLE: {
    kind: 'io',
    status: 503,
    hint: 'the OPA engine is not answering (starting, restarting after a crash, or unreachable); retry; see the opa sidecar state in /healthz',
  },
  DECISION_BUDGET_EXCEEDED: {
    kind: 'io',
    status: 503,
    hint: 'the decision was not answered within governance.budget.verdict_ms (on_exceed: fail_closed, or fail_open without an answer for the path); retry, make the policy cheaper, or raise the budget',
  },
  OPA_DECISION_TIMEOUT: {
    kind: 'io',
    status: 503,
    hint: 'the OPA engine did not answer the decision in time (the request was aborted); retry, or make the policy cheaper',
  },

  PACK_SPEC_INVALID: {
    kind: 'build',
    status: 500,
    hint: 'fix warden.yaml in the policy folder (see README, "Pack folder")',
  },
  PACK_DATA_INVALID: { kind: 'build', status: 500, hint: 'data.json / data.yaml must parse and be a JSON object' },
  PACK_COMPILE_FAILED: { kind: 'build', status: 500, hint: 'fix the Rego at the file:line:col shown' },
  PACK_TEST_FAILED: { kind: 'build', status: 500, hint: 'a _test.rego test failed; run `opa test -v DIR` to see it' },
  PACK_BUILTIN_UNSUPPORTED: {
    kind: 'build',
    status: 500,
    hint: 'the embedded (wasm) engine lacks the builtins named; write the rule without them, or run the pack with `engine: opa` (docs/errors.md#pack_builtin_unsupported lists what the engine provides)',
  },
  PACK_GOLDEN_FAILED: {
    kind: 'build',
    status: 500,
    hint: 'the named golden decision does not match; fix the policy or the case',
  },
  PACK_RULE_CONFLICT: {
    kind: 'build',
    status: 500,
    hint: 'make the unconditional rule a default (e.g. `default priority := "P2"`), so it applies only when no other rule gives a value',
  },

  // The limit refusals carry their own hint naming the key that raises the limit (src/pack/limits.ts).
  PACK_TOO_LARGE: {
    kind: 'input',
    status: 500,
    hint: 'the compressed pack is over the size limit; the message names the limit and its key',
  },
  PACK_UNCOMPRESSED_TOO_LARGE: {
    kind: 'input',
    status: 500,
    hint: 'the pack inflates past the uncompressed limit (gzip bomb?); the message names the limit and its key',
  },
  PACK_TOO_MANY_FILES: {
    kind: 'input',
    status: 500,
    hint: 'the pack has more entries than the file-count limit; the message names the limit and its key',
  },
  PACK_FILE_TOO_LARGE: {
    kind: 'input',
    status: 500,
    hint: 'one file in the pack is over the per-file limit; the message names the limit and its key',
  },
  PACK_UNSAFE_PATH: {
    kind: 'input',
    status: 500,
    hint: 'the pack holds an absolute path, a `..` segment or an odd name',
  },
  PACK_UNSAFE_ENTRY: { kind: 'input', status: 500, hint: 'the pack holds a link, device or other non-regular entry' },
  PACK_DUPLICATE_ENTRY: { kind: 'input', status: 500, hint: 'the pack holds the same path twice' },
  PACK_MALFORMED: { kind: 'input', status: 500, hint: 'the bytes are not a well-formed gzip-compressed tar' },
  PACK_MANIFEST_INVALID: { kind: 'input', status: 500, hint: 'the pack has no valid .manifest with a warden marker' },

  TRUST_CONFIG_INVALID: {
    kind: 'setup',
    status: 500,
    hint: 'fix the verification settings (keys, trusted root, identity policy)',
  },
  KEY_INVALID: { kind: 'setup', status: 500, hint: 'keys must be ECDSA P-256 in PEM (make them with `warden keygen`)' },

  SIGNATURE_MISSING: {
    kind: 'integrity',
    status: 500,
    hint: 'sign the pack with `warden pack sign` and publish FILE.sigstore.json beside it',
  },
  SIGNATURE_BUNDLE_MALFORMED: {
    kind: 'integrity',
    status: 500,
    hint: 'the .sigstore.json is not a valid Sigstore message-signature bundle',
  },
  SIGNATURE_KEY_UNKNOWN: {
    kind: 'integrity',
    status: 500,
    hint: 'the pack was signed by a key that is not among the trusted public keys',
  },
  SIGNATURE_INVALID: { kind: 'integrity', status: 500, hint: 'the signature does not match the pack bytes and key' },
  DIGEST_MISMATCH: {
    kind: 'integrity',
    status: 500,
    hint: 'the pack bytes do not match the signed or announced SHA-256 digest',
  },
  CERTIFICATE_UNTRUSTED: {
    kind: 'integrity',
    status: 500,
    hint: 'the signing certificate does not chain to the trusted root or was not valid at signing time',
  },
  TLOG_UNTRUSTED: {
    kind: 'integrity',
    status: 500,
    hint: 'the transparency-log entry is missing, invalid or from a log not in the trusted root',
  },
  TIMESTAMP_UNTRUSTED: { kind: 'integrity', status: 500, hint: 'no trusted timestamp proves when the pack was signed' },
  IDENTITY_UNTRUSTED: {
    kind: 'policy',
    status: 500,
    hint: 'the signer identity (issuer, subject) does not match the configured policy',
  },

  PACK_DOWNGRADE: {
    kind: 'policy',
    status: 500,
    hint: 'publish a pack with a higher sequence; only an operator rollback may go back',
  },
  PACK_NAME_MISMATCH: {
    kind: 'policy',
    status: 500,
    hint: 'the pack marker names another pack than the one configured; check the source URL',
  },

  CONFIG_INVALID: {
    kind: 'setup',
    status: 500,
    hint: 'fix the listed keys in the agent configuration (see README, "Configuration")',
  },
  STORE_LOCKED: {
    kind: 'setup',
    status: 500,
    hint: 'another agent uses this data_dir; stop it or give this one its own data_dir',
  },
  STORE_CORRUPT: {
    kind: 'io',
    status: 500,
    hint: 'the store state file is unreadable; Warden falls back to the newest verifiable pack',
  },
  LISTEN_FAILED: {
    kind: 'setup',
    status: 500,
    hint: 'the address is in use or not bindable; pick another listen address or stop what holds it',
  },
  BOOT_NO_VALID_PACK: {
    kind: 'setup',
    status: 500,
    hint: 'publish a valid signed pack or make the source reachable, then start again',
  },
  BOOT_INTERRUPTED: {
    kind: 'setup',
    status: 500,
    hint: 'the agent got SIGTERM or SIGINT before it was serving and stopped without waiting for its sources; nothing to fix',
  },

  FETCH_FAILED: {
    kind: 'fetch',
    status: 500,
    hint: 'the pack server is unreachable or reset the connection; the agent retries with backoff',
  },
  FETCH_TIMEOUT: {
    kind: 'fetch',
    status: 500,
    hint: 'the pack server did not answer within timeout_seconds; the agent retries with backoff',
  },
  FETCH_HTTP_STATUS: { kind: 'fetch', status: 500, hint: 'the pack server answered with an unexpected HTTP status' },
  FETCH_TOO_LARGE: {
    kind: 'fetch',
    status: 500,
    hint: 'the pack is over the configured size limit (limits.max_pack_bytes, or source.http.max_bytes or source.s3.max_bytes if lower)',
  },
  SIGNATURE_FETCH_FAILED: {
    kind: 'fetch',
    status: 500,
    hint: 'the pack was fetched but its .sigstore.json was not; publish both',
  },
  OCI_REFERENCE_INVALID: {
    kind: 'setup',
    status: 500,
    hint: 'write the OCI reference as registry/repository:tag or registry/repository@sha256:<hex>',
  },
  OCI_AUTH_FAILED: {
    kind: 'fetch',
    status: 500,
    hint: "the registry refused the credentials (or the token exchange failed); check source.oci.auth's files and the account's pull (or push) rights",
  },
  OCI_MANIFEST_INVALID: {
    kind: 'fetch',
    status: 500,
    hint: 'the reference does not name a pack artefact: push it with `warden pack push` or with a layer of type application/vnd.oci.image.layer.v1.tar+gzip',
  },
  OCI_DIGEST_MISMATCH: {
    kind: 'fetch',
    status: 500,
    hint: 'the registry sent content that does not hash to the digest it was asked for (a broken registry or proxy); the agent retries with backoff',
  },
  FETCH_ACCESS_DENIED: {
    kind: 'fetch',
    status: 500,
    hint: 'the object store refused the credentials or their signature (403: InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, ExpiredToken); fix the access key files or the bucket policy; the active pack stays',
  },
  FETCH_CREDENTIALS_UNAVAILABLE: {
    kind: 'fetch',
    status: 500,
    hint: 'no credentials to sign the request with: a credentials file named in source.s3.credentials is missing or empty, or the default AWS provider chain found none',
  },

  DECISION_PATH_UNKNOWN: {
    kind: 'usage',
    status: 404,
    hint: 'no active pack can answer this path: a pack built without package entrypoints answers only its declared ones (GET /healthz lists them), rebuild it with warden pack build; the governance step needs its own pack active',
  },
  HTTP_REQUEST_INVALID: {
    kind: 'usage',
    status: 400,
    hint: 'the HTTP request itself was refused before any route: headers over 16 KiB (431), malformed HTTP (400) or too slow (408); send a smaller, well-formed request',
  },
  DECISION_UNDEFINED: {
    kind: 'usage',
    status: 404,
    hint: 'the decision is undefined for this input; POST /v0/data/… and POST / answer only defined documents (POST /v1/data/… answers undefined as 200 without a result)',
  },
  DECISION_INPUT_INVALID: { kind: 'usage', status: 400, hint: 'the body must be JSON: {"input": ...}' },
  INPUT_TOO_DEEP: {
    kind: 'usage',
    status: 400,
    hint: 'the request nests arrays and objects deeper than limits.max_json_depth allows (or than the engine can evaluate); flatten the input',
  },
  STRICT_BUILTIN_ERRORS_UNSUPPORTED: {
    kind: 'usage',
    status: 400,
    hint: "the embedded wasm engine cannot tell a failing builtin from an undefined one; send the request without strict-builtin-errors (OPA's default semantics)",
  },
  DECISION_FAILED: {
    kind: 'io',
    status: 500,
    hint: 'the policy raised an error during evaluation (conflicting rule outputs?)',
  },
  NOT_READY: { kind: 'setup', status: 503, hint: 'no verified pack is active yet for this path' },
  SHADOW_REFUSED: {
    kind: 'policy',
    status: 500,
    hint: "the shadow version failed its rollout gate and was not promoted; the active version keeps answering; read the changed decisions in the pack's shadow log (docs/runbooks.md#wardenshadowrefused)",
  },
  SHADOW_NOT_RUNNING: {
    kind: 'usage',
    status: 409,
    hint: 'the pack has no shadow to promote: it is not in rollout mode shadow, or its shadow was already promoted, refused or cancelled (see `warden status`)',
  },
  DECISION_WORKER_LOST: {
    kind: 'io',
    status: 503,
    hint: 'the decision worker answering this request died and no other could take it; retry (a new worker is starting; see decision_worker_restarts_total)',
  },
  PRIMARY_UNAVAILABLE: {
    kind: 'io',
    status: 503,
    hint: "a serving process (http_processes) could not reach the agent's primary process for a route the primary answers (admin, health, metrics); the primary is stopping or overloaded: retry, and see the primary's log",
  },
  ENGINE_PREPARER_LOST: {
    kind: 'io',
    status: 503,
    hint: 'the thread preparing a local engine died during the load; the activation was refused and the last-known-good version keeps answering; the next activation starts a new thread (retry, or see the log line for why it died)',
  },
  DECISION_ASYNC_ONLY: {
    kind: 'usage',
    status: 400,
    hint: 'this pack is answered by decision workers: call decideAsync(), or set decision_workers: 0 to answer on the calling thread',
  },

  ADMIN_DISABLED: {
    kind: 'setup',
    status: 404,
    hint: 'the admin API is off: set admin.token_file in the agent configuration',
  },
  ADMIN_UNAUTHORIZED: {
    kind: 'usage',
    status: 401,
    hint: 'send Authorization: Bearer <token> with the token from admin.token_file',
  },
  VERSION_NOT_FOUND: {
    kind: 'usage',
    status: 404,
    hint: 'list versions with `warden versions` (GET /v1/admin/packs/<pack>/versions)',
  },

  PACK_NOT_FOUND: {
    kind: 'usage',
    status: 404,
    hint: 'the pack server has no DIR/NAME.tar.gz (or its .sigstore.json) for this URL; check the name and what was published',
  },

  EVENT_HANDLER_FAILED: {
    kind: 'io',
    status: 500,
    hint: 'an in-process event subscriber threw; its later events are still delivered; fix the handler named in `subscriber`',
  },
  EVENT_QUEUE_OVERFLOW: {
    kind: 'io',
    status: 500,
    hint: "a subscriber fell behind and its oldest events were dropped; make its handler faster or raise the bus's queue limit",
  },
  WEBHOOK_DELIVERY_FAILED: {
    kind: 'fetch',
    status: 500,
    hint: 'the webhook receiver did not answer 2xx in time; retried with backoff, then written to the dead-letter file',
  },

  EVENT_ID_INVALID: {
    kind: 'usage',
    status: 400,
    hint: 'Last-Event-ID (or ?last_event_id=) must be an event id the stream sent: a non-negative integer',
  },

  TOKEN_INVALID: {
    kind: 'usage',
    status: 401,
    hint: 'send Authorization: Bearer <JWT> signed by a key in the configured JWKS, with the pinned issuer, audience and an exp; details.reason says what failed',
  },
  TENANT_MISSING: {
    kind: 'policy',
    status: 403,
    hint: 'the verified token carries no tenant claim (or an empty one); the identity provider must issue the tenant claim, there is no default tenant',
  },
  TENANT_MALFORMED: {
    kind: 'policy',
    status: 403,
    hint: 'the tenant in the token or in X-Tenant-ID is not a string matching the tenant pattern',
  },
  TENANT_MISMATCH: {
    kind: 'policy',
    status: 403,
    hint: 'X-Tenant-ID names another tenant than the verified token; use a token issued for the addressed tenant',
  },
  JWKS_UNAVAILABLE: {
    kind: 'fetch',
    status: 503,
    hint: 'the JWKS file or URL could not be read or holds no usable public keys; check the configured JWKS file or URL and the key server',
  },
  TOKEN_REVOKED: {
    kind: 'policy',
    status: 401,
    hint: "the token's jti or sid is on the revocation list (governance.tenants.revocation); the client must get a new token",
  },
  REVOCATION_UNAVAILABLE: {
    kind: 'fetch',
    status: 503,
    hint: 'the revocation list has not been read from Redis within stale_after_seconds (or ever, since start) and on_stale is fail_closed; check Redis and the agent log (runbook WardenRevocationStale)',
  },
  DECISION_LOG_WRITE_FAILED: {
    kind: 'io',
    status: 500,
    hint: 'the decision-log folder is not writable (missing parent, permissions, disk full); events stay queued and are retried, the oldest dropped past the queue limit',
  },
  DECISION_LOG_OVERFLOW: {
    kind: 'io',
    status: 500,
    hint: 'decisions came faster than the decision log could write them, or the disk failed; the oldest queued events were dropped; check the disk or raise the queue limit',
  },
  DECISION_LOG_SHIP_FAILED: {
    kind: 'io',
    status: 500,
    hint: 'the decision-log collector did not acknowledge a batch (unreachable, timed out, 5xx, 408 or 429); it is retried with backoff and stays in the local files until acknowledged',
  },
  DECISION_LOG_SHIP_REFUSED: {
    kind: 'io',
    status: 500,
    hint: 'the decision-log collector refused a batch with a 4xx (bad token, wrong resource, body rejected); the batch is skipped (it stays in the local files); check decision_log.service and the collector',
  },
  DECISION_LOG_SHIP_DROPPED: {
    kind: 'io',
    status: 500,
    hint: 'unshipped decision-log data was given up: the backlog passed queue_max_bytes, retention deleted a file before it was shipped, or an event alone is over batch_max_bytes; make the collector reachable or raise the bounds',
  },
  POLICY_DENIED: {
    kind: 'policy',
    status: 403,
    hint: 'the governance policy denied the request; details.reasons says why and decision_id finds it in the decision log',
  },
  KILL_SWITCH_ACTIVE: {
    kind: 'policy',
    status: 503,
    hint: 'a kill switch blocks this module (or no switch state has loaded yet and the module is high-risk); clear it in the kill-switch pack, or make that pack reachable',
  },
  GOVERNANCE_DISABLED: {
    kind: 'setup',
    status: 404,
    hint: 'verdicts need a `governance:` block in the agent configuration naming the pack that answers them',
  },
  VERDICT_INVALID: {
    kind: 'build',
    status: 500,
    hint: 'the verdict entrypoint must return {"allow": boolean, "reasons": [string]}; the request was denied (fail closed); fix the policy',
  },
  GOVERNANCE_PACK_INVALID: {
    kind: 'build',
    status: 500,
    hint: 'the governance or kill-switch pack lacks an entrypoint governance needs, or it answers in the wrong shape; the pack was refused and the last-known-good kept',
  },
  EVIDENCE_WRITE_FAILED: {
    kind: 'io',
    status: 500,
    hint: 'boot.json could not be written under the evidence folder (permissions, disk full, missing parent); in strict mode the agent does not start',
  },
  POLICY_UPDATE_FAILED: {
    kind: 'input',
    status: 500,
    hint: 'a policy update was refused and the last-known-good policy keeps answering; the `cause` field of the log line has the specific code',
  },
  POLICY_INTEGRITY_CHECK_FAILED: {
    kind: 'integrity',
    status: 500,
    hint: "the policy's SHA-256 could not be computed; the policy is treated as corrupt: refused at runtime (last-known-good stays), fatal at start",
  },
} as const satisfies Record<string, ErrorSpec>;

/** Codes that existed once and must never be given a new meaning. */
export const RETIRED_CODES: readonly string[] = [];

export type ErrorCode = keyof typeof ERROR_CODES;

/** Any failure Warden reports: a stable code, a message, a hint and an optional cause. */
export class WardenError extends Error {
  override readonly name = 'WardenError';
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; hint?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint ?? ERROR_CODES[code].hint;
    this.details = Object.freeze({ ...options.details });
  }

  get kind(): ErrorKind {
    return ERROR_CODES[this.code].kind;
  }

  /** The error as data, for health and admin answers and JSON logs. */
  toJSON(): { code: ErrorCode; message: string; hint: string; details?: Record<string, unknown> } {
    const out: { code: ErrorCode; message: string; hint: string; details?: Record<string, unknown> } = {
      code: this.code,
      message: this.message,
      hint: this.hint,
    };
    if (Object.keys(this.details).length > 0) out.details = { ...this.details };
    return out;
  }
}

/** True if `err` is a WardenError, optionally with the given code. */
export function isWardenError(err: unknown, code?: ErrorCode): err is WardenError {
  return err instanceof WardenError && (code === undefined || err.code === code);
}

/** The kinds of failure that are about a pack's bytes: the same bytes fail the same way every time (as opposed to the machine, the disk or the network). */
const CONTENT_ERROR_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['integrity', 'policy', 'input', 'build']);

/**
 * True when a refused pack was refused for what it is (signature, digest,
 * downgrade, malformed content, a build or golden failure), so refusing the same
 * bytes again is certain; false for failures of the machine or the transfer.
 */
export function isContentError(error: WardenError): boolean {
  return CONTENT_ERROR_KINDS.has(error.kind);
}

/** The HTTP status of a code (see ErrorSpec.status). */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** The message of anything thrown (opa-wasm throws plain strings such as "x.rego:4:1: var assignment conflict"). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wraps anything thrown into a WardenError, keeping WardenErrors as they are. */
export function toWardenError(err: unknown, fallback: ErrorCode = 'INTERNAL'): WardenError {
  if (err instanceof WardenError) return err;
  return new WardenError(fallback, messageOf(err), { cause: err });
}
