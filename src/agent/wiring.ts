/**
 * Builds one configured pack's parts from configuration: its trust, its
 * source and the activator that owns its state.
 */
import { readFile } from 'node:fs/promises';
import type { ActivationStore, ActivePack } from '../activate/activator.js';
import { Activator } from '../activate/activator.js';
import type { Candidate, PackTrust } from '../activate/prepare.js';
import type { AgentConfig } from '../config/load.js';
import type { PackConfig } from '../config/schema.js';
import { loadTrust } from '../config/trust-files.js';
import { WardenError, messageOf } from '../errors.js';
import type { NewEvent } from '../notify/events.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { packSpecFrom } from '../pack/spec.js';
import { DirectorySource } from '../source/directory.js';
import { FileSource } from '../source/file.js';
import { HttpSource } from '../source/http.js';
import type { PackSource, SourceContext } from '../source/types.js';

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

/** Creates activator and source for one pack; the source reports to the activator. */
export async function buildPackRuntime(
  p: PackConfig,
  config: AgentConfig,
  deps: {
    store: ActivationStore;
    metrics: WardenMetrics;
    log: Logger;
    emit: (event: NewEvent) => void;
    onActivated: (active: ActivePack) => void;
    accept?: ((candidate: Candidate) => void) | undefined;
  },
): Promise<PackRuntime> {
  const trust = await packTrust(p);
  const origin = p.source.http?.url ?? p.source.file?.path ?? p.source.directory?.path ?? '';
  const activator = new Activator({
    name: p.name,
    sourceKind: p.source.http ? 'http' : p.source.directory ? 'directory' : 'file',
    origin,
    trust,
    store: deps.store,
    limits: {
      maxCompressedBytes: config.limits.max_pack_bytes,
      maxUncompressedBytes: config.limits.max_uncompressed_bytes,
      maxFiles: config.limits.max_files,
      maxFileBytes: config.limits.max_file_bytes,
    },
    metrics: deps.metrics,
    log: deps.log,
    onActivated: deps.onActivated,
    emit: deps.emit,
    ...(deps.accept ? { accept: deps.accept } : {}),
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

// The source the entry configures, with TLS material read from disk.
async function buildSource(p: PackConfig, config: AgentConfig, ctx: SourceContext): Promise<PackSource> {
  const h = p.source.http;
  if (h) {
    const tls = h.tls
      ? {
          ...(h.tls.ca_file ? { ca: await readTls(h.tls.ca_file) } : {}),
          ...(h.tls.cert_file ? { cert: await readTls(h.tls.cert_file) } : {}),
          ...(h.tls.key_file ? { key: await readTls(h.tls.key_file) } : {}),
        }
      : undefined;
    return new HttpSource(
      {
        url: h.url,
        ...(h.signature_url ? { signatureUrl: h.signature_url } : {}),
        pollMinSeconds: h.poll_min_seconds,
        pollMaxSeconds: h.poll_max_seconds,
        longPollSeconds: h.long_poll_seconds,
        timeoutSeconds: h.timeout_seconds,
        maxBytes: Math.min(h.max_bytes, config.limits.max_pack_bytes),
        backoffMaxSeconds: h.backoff_max_seconds,
        ...(tls ? { tls } : {}),
      },
      ctx,
    );
  }
  const d = p.source.directory;
  if (d) {
    const fallbackSpec = d.entrypoints ? packSpecFrom({ name: p.name, entrypoints: d.entrypoints, rego_version: d.rego_version }, `packs.${p.name}.source.directory`) : undefined;
    return new DirectorySource(
      { path: d.path, debounceMs: d.debounce_ms, rescanSeconds: d.rescan_seconds, ...(fallbackSpec ? { fallbackSpec } : {}), ...(config.opa_path ? { opaPath: config.opa_path } : {}) },
      ctx,
    );
  }
  const f = p.source.file;
  if (!f) throw new WardenError('CONFIG_INVALID', `pack ${p.name}: no source`);
  return new FileSource({ path: f.path, ...(f.signature_path ? { signaturePath: f.signature_path } : {}), pollSeconds: f.poll_seconds, maxBytes: config.limits.max_pack_bytes }, ctx);
}

// Reads a TLS file named in the configuration.
async function readTls(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read TLS file ${path}: ${messageOf(err)}`, { cause: err });
  }
}
