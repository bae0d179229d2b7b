/**
 * Builds the configured packs' parts from configuration: each pack's trust,
 * its source and the activator that owns its state. Each configuration
 * section is mapped to its consumer's options by one function here
 * (`…From(section)`), so the composition root only names stages.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActivationStore, ActivePack } from '../activate/activator.js';
import { Activator } from '../activate/activator.js';
import type { Candidate, PackTrust } from '../activate/prepare.js';
import type { AgentConfig } from '../config/load.js';
import type { DecisionLogConfig, PackConfig, RolloutConfig } from '../config/schema.js';
import { loadTrust } from '../config/trust-files.js';
import { WardenError, messageOf } from '../errors.js';
import type { DecisionLogOptions } from '../decision-log/decision-log.js';
import type { ShipperSettings } from '../decision-log/shipper.js';
import type { NewEvent } from '../notify/events.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { AGENT_LIMIT_KEYS, type PackLimits } from '../pack/limits.js';
import { localEngines, type EngineLoader } from '../activate/prepare.js';
import type { Engine } from '../engine/engine.js';
import { packSpecFrom } from '../pack/spec.js';
import { DirectorySource, type DirectorySourceConfig } from '../source/directory.js';
import { FileSource, type FileSourceConfig } from '../source/file.js';
import type { TlsMaterial } from '../source/http-fetch.js';
import { HttpSource, type HttpSourceConfig } from '../source/http.js';
import type { OciCredentials } from '../source/oci/auth.js';
import { parseOciReference } from '../source/oci/reference.js';
import { OciSource, type OciSourceConfig } from '../source/oci/source.js';
import { s3Url } from '../source/s3-fetch.js';
import { S3Source, type S3SourceConfig } from '../source/s3.js';
import type { PackSource, SourceContext } from '../source/types.js';
import type { ShadowEvaluator } from '../shadow/evaluator.js';
import type { ShadowSettings } from '../shadow/settings.js';

type Limits = AgentConfig['limits'];
type HttpSection = NonNullable<PackConfig['source']['http']>;
type S3Section = NonNullable<PackConfig['source']['s3']>;
type FileSection = NonNullable<PackConfig['source']['file']>;
type OciSection = NonNullable<PackConfig['source']['oci']>;
type DirectorySection = NonNullable<PackConfig['source']['directory']>;

/** What building a pack's parts needs besides its configuration. */
export interface PackDeps {
  readonly store: ActivationStore;
  readonly metrics: WardenMetrics;
  readonly log: Logger;
  readonly emit: (event: NewEvent) => void;
  readonly onActivated: (active: ActivePack) => void;
  /** Builds engines in the decision workers; packs with an acceptance check (governance's) stay local. */
  readonly engines?: EngineLoader | undefined;
  /**
   * Builds local engines (packs with an acceptance check, and every pack without decision workers)
   * off this thread: the engine preparer's loader. Absent: on this thread.
   */
  readonly localEngines?: EngineLoader | undefined;
  /** engine: opa — the loader of a pack OPA answers (undefined for the others); `current` gives its active engine. */
  readonly opaEngines?: ((name: string, current: () => Engine | undefined) => EngineLoader | undefined) | undefined;
  /** Evaluates the shadows of packs in rollout mode shadow (present when any pack is). */
  readonly shadows?: ShadowEvaluator | undefined;
  /** With serving processes: wraps a pack's loader so each pack is prepared in them too (src/serve/). */
  readonly serving?: ((name: string, loader: EngineLoader) => EngineLoader) | undefined;
}

/** A configured pack's moving parts. */
export interface PackRuntime {
  readonly config: PackConfig;
  readonly activator: Activator;
  readonly source: PackSource;
}

/** Compiles the trust a pack entry names. */
export async function packTrust(p: PackConfig): Promise<PackTrust> {
  if (p.verify.public_keys) return loadTrust({ publicKeys: p.verify.public_keys });
  if (p.verify.keyless) {
    const k = p.verify.keyless;
    return loadTrust({ trustedRoot: k.trusted_root, issuer: k.issuer, subjectRegex: k.subject_regex });
  }
  return { kind: 'unsigned' };
}

/**
 * Creates activator and source for every pack entry, in order; `accept` gives
 * a pack's acceptance check, if it has one. On a failure the sources already
 * built are stopped.
 */
export async function buildPackRuntimes(
  entries: readonly PackConfig[],
  config: AgentConfig,
  deps: PackDeps,
  accept: (name: string) => ((candidate: Candidate) => void) | undefined,
): Promise<PackRuntime[]> {
  const runtimes: PackRuntime[] = [];
  try {
    for (const p of entries) runtimes.push(await buildPackRuntime(p, config, { ...deps, accept: accept(p.name) }));
    return runtimes;
  } catch (err) {
    await stopSources(runtimes);
    throw err;
  }
}

/** Starts every pack's poll loop; each source reports to its activator. */
export function startSources(runtimes: readonly PackRuntime[]): void {
  for (const r of runtimes) r.source.start((u) => r.activator.submit(u));
}

/** Stops every pack's source (ends any fetch in flight); stopping twice is harmless. */
export async function stopSources(runtimes: readonly PackRuntime[]): Promise<void> {
  await Promise.all(runtimes.map((r) => r.source.stop()));
}

/** Creates activator and source for one pack; the source reports to the activator. */
async function buildPackRuntime(
  p: PackConfig,
  config: AgentConfig,
  deps: PackDeps & { readonly accept?: ((candidate: Candidate) => void) | undefined },
): Promise<PackRuntime> {
  const trust = await packTrust(p);
  const s3 = p.source.s3;
  const origin =
    p.source.http?.url ??
    (s3 ? s3Url(s3.bucket, s3.key) : undefined) ??
    p.source.file?.path ??
    p.source.directory?.path ??
    '';
  // The pack's loader: OPA's for engine: opa, else the decision workers' (packs with an acceptance check
  // stay local), else the engine preparer's (a local engine, prepared off this thread).
  const opa = deps.opaEngines?.(p.name, () => activator.current?.engine);
  const chosen = opa ?? (deps.accept ? deps.localEngines : (deps.engines ?? deps.localEngines));
  const engines = deps.serving ? deps.serving(p.name, chosen ?? localEngines) : chosen;
  const activator: Activator = new Activator({
    name: p.name,
    sourceKind: p.source.http ? 'http' : s3 ? 's3' : p.source.directory ? 'directory' : 'file',
    origin,
    trust,
    store: deps.store,
    limits: packLimitsFrom(config.limits),
    limitKeys: AGENT_LIMIT_KEYS,
    metrics: deps.metrics,
    log: deps.log,
    onActivated: deps.onActivated,
    emit: deps.emit,
    ...(deps.accept ? { accept: deps.accept } : {}),
    ...(engines ? { engines } : {}),
    ...(p.rollout?.mode === 'shadow' && deps.shadows
      ? { rollout: { start: deps.shadows.starter(shadowSettingsFrom(p.rollout)) } }
      : {}),
  });
  const ctx: SourceContext = {
    pack: p.name,
    log: deps.log,
    metrics: deps.metrics,
    onConfirmed: () => activator.confirmed(),
    onFetchError: (e) => activator.fetchFailed(e),
    onRefused: (e, info) => activator.recordRefusal(e, info),
  };
  return { config: p, activator, source: await buildSource(p, config, ctx) };
}

/** A pack's shadow settings from its `rollout:` block. */
export function shadowSettingsFrom(r: RolloutConfig): ShadowSettings {
  return {
    sample: r.sample,
    queueLimit: r.queue_limit,
    gate: {
      minDecisions: r.gate.min_decisions,
      maxDiffRate: r.gate.max_diff_rate,
      allowDenyToAllow: r.gate.allow_deny_to_allow,
      autoPromote: r.gate.auto_promote,
    },
    ...(r.max_duration_seconds === undefined ? {} : { maxDurationMs: r.max_duration_seconds * 1000 }),
    logMaxBytes: r.log_max_bytes,
  };
}

/** The pack limits an activator enforces, from `limits:`. */
export function packLimitsFrom(limits: Limits): Partial<PackLimits> {
  return {
    maxCompressedBytes: limits.max_pack_bytes,
    maxUncompressedBytes: limits.max_uncompressed_bytes,
    maxFiles: limits.max_files,
    maxFileBytes: limits.max_file_bytes,
  };
}

/** HttpSource settings from `source.http` (TLS material read beforehand); a pack is never larger than `limits.max_pack_bytes`, its `max_bytes` default. */
export function httpSourceConfigFrom(h: HttpSection, limits: Limits, tls: TlsMaterial | undefined): HttpSourceConfig {
  return {
    url: h.url,
    ...(h.signature_url ? { signatureUrl: h.signature_url } : {}),
    pollMinSeconds: h.poll_min_seconds,
    pollMaxSeconds: h.poll_max_seconds,
    longPollSeconds: h.long_poll_seconds,
    timeoutSeconds: h.timeout_seconds,
    ...(h.max_bytes !== undefined && h.max_bytes < limits.max_pack_bytes
      ? { maxBytes: h.max_bytes, maxBytesKey: 'source.http.max_bytes' }
      : { maxBytes: limits.max_pack_bytes, maxBytesKey: AGENT_LIMIT_KEYS.names.maxCompressedBytes }),
    backoffMaxSeconds: h.backoff_max_seconds,
    ...(tls ? { tls } : {}),
  };
}

/** OciSource settings from `source.oci` (credentials and CA read beforehand); the layer is never larger than `limits.max_pack_bytes`. */
export function ociSourceConfigFrom(
  o: OciSection,
  limits: Limits,
  credentials: OciCredentials,
  ca: Buffer | undefined,
): OciSourceConfig {
  return {
    ref: parseOciReference(o.reference),
    credentials,
    // The files are read again before each poll: a rotated password or token is used without a restart.
    ...(o.auth === undefined ? {} : { readCredentials: () => rereadOciCredentials(o.auth) }),
    insecureHttp: o.insecure_http,
    ...(ca === undefined ? {} : { ca }),
    pollMinSeconds: o.poll_min_seconds,
    pollMaxSeconds: o.poll_max_seconds,
    timeoutSeconds: o.timeout_seconds,
    backoffMaxSeconds: o.backoff_max_seconds,
    ...(o.max_bytes !== undefined && o.max_bytes < limits.max_pack_bytes
      ? { maxBytes: o.max_bytes, maxBytesKey: 'source.oci.max_bytes' }
      : { maxBytes: limits.max_pack_bytes, maxBytesKey: AGENT_LIMIT_KEYS.names.maxCompressedBytes }),
  };
}

/** The registry credentials `source.oci.auth` names, read from their files (trailing newlines dropped). */
export async function readOciCredentials(auth: OciSection['auth']): Promise<OciCredentials> {
  if (auth === undefined) return { kind: 'anonymous' };
  if ('token_file' in auth) return { kind: 'token', token: await readSecret(auth.token_file) };
  return {
    kind: 'basic',
    username: await readSecret(auth.username_file),
    password: await readSecret(auth.password_file),
  };
}

// The credentials again, before a poll: a file that cannot be read fails that poll, as s3's do.
async function rereadOciCredentials(auth: OciSection['auth']): Promise<OciCredentials> {
  try {
    return await readOciCredentials(auth);
  } catch (err) {
    throw new WardenError('FETCH_CREDENTIALS_UNAVAILABLE', messageOf(err), { cause: err });
  }
}

// A secret file's contents without the trailing newline editors add.
async function readSecret(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read registry credential file ${path}: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

/** S3Source settings from `source.s3` (the CA read beforehand); like http, a pack is never larger than `limits.max_pack_bytes`. */
export function s3SourceConfigFrom(s: S3Section, limits: Limits, ca: Buffer | undefined): S3SourceConfig {
  const files = s.credentials;
  return {
    bucket: s.bucket,
    key: s.key,
    ...(s.signature_key === undefined ? {} : { signatureKey: s.signature_key }),
    ...(s.endpoint === undefined ? {} : { endpoint: s.endpoint }),
    region: s.region,
    forcePathStyle: s.force_path_style,
    ...(files === undefined
      ? {}
      : {
          credentials: {
            accessKeyIdFile: files.access_key_id_file,
            secretAccessKeyFile: files.secret_access_key_file,
            ...(files.session_token_file === undefined ? {} : { sessionTokenFile: files.session_token_file }),
          },
        }),
    ...(ca === undefined ? {} : { ca }),
    pollMinSeconds: s.poll_min_seconds,
    pollMaxSeconds: s.poll_max_seconds,
    timeoutSeconds: s.timeout_seconds,
    ...(s.max_bytes !== undefined && s.max_bytes < limits.max_pack_bytes
      ? { maxBytes: s.max_bytes, maxBytesKey: 'source.s3.max_bytes' }
      : { maxBytes: limits.max_pack_bytes, maxBytesKey: AGENT_LIMIT_KEYS.names.maxCompressedBytes }),
    backoffMaxSeconds: s.backoff_max_seconds,
  };
}

/** DirectorySource settings from `source.directory` and `limits:`; its entrypoints stand in when the folder has no warden.yaml. */
export function directorySourceConfigFrom(
  name: string,
  d: DirectorySection,
  opaPath: string | undefined,
  limits: Limits,
  engine: 'wasm' | 'opa' = 'wasm',
): DirectorySourceConfig {
  const fallbackSpec = d.entrypoints
    ? packSpecFrom(
        { name, entrypoints: d.entrypoints, rego_version: d.rego_version, engine },
        `packs.${name}.source.directory`,
      )
    : undefined;
  return {
    path: d.path,
    debounceMs: d.debounce_ms,
    rescanSeconds: d.rescan_seconds,
    limits: { limits: packLimitsFrom(limits), limitKeys: AGENT_LIMIT_KEYS },
    ...(fallbackSpec ? { fallbackSpec } : {}),
    ...(opaPath ? { opaPath } : {}),
  };
}

/** FileSource settings from `source.file`. */
export function fileSourceConfigFrom(f: FileSection, limits: Limits): FileSourceConfig {
  return {
    path: f.path,
    ...(f.signature_path ? { signaturePath: f.signature_path } : {}),
    pollSeconds: f.poll_seconds,
    maxBytes: limits.max_pack_bytes,
    maxBytesKey: AGENT_LIMIT_KEYS.names.maxCompressedBytes,
  };
}

/** DecisionLog options from `decision_log:`; its folder defaults to `<data_dir>/decisions`. */
export function decisionLogOptionsFrom(
  d: DecisionLogConfig,
  dataDir: string,
  deps: { readonly metrics: WardenMetrics; readonly log: Logger },
): DecisionLogOptions {
  return {
    dir: d.dir ?? join(dataDir, 'decisions'),
    queueLimit: d.queue_limit,
    batchSize: d.batch_size,
    flushIntervalMs: d.flush_interval_ms,
    maxFileBytes: d.max_file_bytes,
    maxFiles: d.max_files,
    ...(d.service === undefined ? {} : { service: shipperSettingsFrom(d.service) }),
    registry: deps.metrics.registry,
    log: deps.log.child({ component: 'decision-log' }),
  };
}

/** Shipper settings from `decision_log.service`. */
export function shipperSettingsFrom(s: NonNullable<DecisionLogConfig['service']>): ShipperSettings {
  return {
    url: s.url,
    resource: s.resource,
    ...(s.headers === undefined ? {} : { headers: s.headers }),
    ...(s.token_file === undefined ? {} : { tokenFile: s.token_file }),
    ...(s.tls?.ca_file === undefined ? {} : { caFile: s.tls.ca_file }),
    batchMaxBytes: s.batch_max_bytes,
    batchMaxEvents: s.batch_max_events,
    minDelayMs: s.upload_interval.min_delay_seconds * 1000,
    maxDelayMs: s.upload_interval.max_delay_seconds * 1000,
    timeoutMs: s.timeout_seconds * 1000,
    backoffMaxMs: s.backoff_max_seconds * 1000,
    queueMaxBytes: s.queue_max_bytes,
  };
}

// The source the entry configures, with TLS material read from disk.
async function buildSource(p: PackConfig, config: AgentConfig, ctx: SourceContext): Promise<PackSource> {
  const h = p.source.http;
  if (h) return new HttpSource(httpSourceConfigFrom(h, config.limits, await readTlsFiles(h.tls)), ctx);
  const o = p.source.oci;
  if (o) {
    const ca = o.ca_file === undefined ? undefined : await readTls(o.ca_file);
    return new OciSource(ociSourceConfigFrom(o, config.limits, await readOciCredentials(o.auth), ca), ctx);
  }
  const s3 = p.source.s3;
  if (s3)
    return new S3Source(
      s3SourceConfigFrom(s3, config.limits, s3.ca_file === undefined ? undefined : await readTls(s3.ca_file)),
      ctx,
    );
  const d = p.source.directory;
  if (d)
    return new DirectorySource(
      directorySourceConfigFrom(p.name, d, config.opa_path, config.limits, p.engine ?? config.engine),
      ctx,
    );
  const f = p.source.file;
  if (!f) throw new WardenError('CONFIG_INVALID', `pack ${p.name}: no source`);
  return new FileSource(fileSourceConfigFrom(f, config.limits), ctx);
}

// The TLS material `source.http.tls` names, read from disk.
async function readTlsFiles(tls: HttpSection['tls']): Promise<TlsMaterial | undefined> {
  if (!tls) return undefined;
  return {
    ...(tls.ca_file ? { ca: await readTls(tls.ca_file) } : {}),
    ...(tls.cert_file ? { cert: await readTls(tls.cert_file) } : {}),
    ...(tls.key_file ? { key: await readTls(tls.key_file) } : {}),
  };
}

// Reads a TLS file named in the configuration.
async function readTls(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read TLS file ${path}: ${messageOf(err)}`, { cause: err });
  }
}
