/**
 * The `oci` source: a pack stored in an OCI registry as an OPA bundle artefact
 * (src/verify/oci-media-types.ts), its signature a Sigstore bundle attached as a referrer
 * (signature.ts). Change detection is by manifest digest: each poll is one
 * HEAD of the tag (the digest is the source's ETag); only a new digest costs
 * the manifest, the layer and the signature. A reference pinned by digest is
 * fetched once and then only confirmed. Polling, jitter, backoff after
 * failures (poll-loop.ts), what a poll found (remote-fetch.ts) and the memory
 * of a refused pack (refused.ts) work as for `http`:
 * a refused manifest is not handed over again while its signature referrer
 * is the same one.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../observe/logger.js';
import { PollLoop, type PollDeps, type PollSchedule } from '../poll-loop.js';
import { isRefusedPair } from '../refused.js';
import { remoteFetch, type Found, type RemoteMemory } from '../remote-fetch.js';
import type { FetchOnceOptions, PackSource, SourceContext, UpdateHandler, UpdateOutcome } from '../types.js';
import type { OciCredentials } from './auth.js';
import { OciClient } from './client.js';
import { locatePack } from './manifest.js';
import { formatOciReference, type OciReference } from './reference.js';
import { fetchSignatureBytes, findSignature } from './signature.js';

/** The `source.oci` settings of one pack (credentials and CA as contents, not paths). */
export interface OciSourceConfig extends PollSchedule {
  readonly ref: OciReference;
  readonly credentials: OciCredentials;
  /**
   * Reads the credentials again (from their files) before each poll, so that a rotated secret is
   * used without a restart; absent: `credentials` stay as given. A read that fails fails the poll.
   */
  readonly readCredentials?: () => Promise<OciCredentials>;
  readonly insecureHttp: boolean;
  readonly ca?: Buffer;
  readonly timeoutSeconds: number;
  readonly maxBytes: number;
  readonly maxBytesKey?: string;
}

/** Seams for tests: randomness and timers. */
export type OciSourceDeps = PollDeps;

// A pack layer and its signature bundle (if any), the manifest digest as their version tag.
interface OciPair {
  readonly pack: Buffer;
  readonly signature: Buffer | undefined;
  readonly etag: string;
  readonly signatureEtag: string | undefined;
}

/** A pack in an OCI registry. */
export class OciSource implements PackSource {
  readonly kind = 'oci' as const;
  readonly #config: OciSourceConfig;
  readonly #ctx: SourceContext;
  #client: OciClient | undefined;
  readonly #loop: PollLoop;
  readonly #origin: string;
  readonly #memory: RemoteMemory = { active: undefined, refused: undefined };

  constructor(config: OciSourceConfig, ctx: SourceContext, deps: OciSourceDeps = {}) {
    this.#config = config;
    this.#ctx = ctx;
    this.#loop = new PollLoop(config, deps);
    this.#origin = formatOciReference(config.ref);
  }

  setActive(etag: string | undefined): void {
    this.#memory.active = etag;
  }

  fetchOnce(handler: UpdateHandler, options: FetchOnceOptions = {}): Promise<UpdateOutcome | undefined> {
    return this.#loop.serial((signal) => this.#fetch(handler, signal, options.force === true));
  }

  start(handler: UpdateHandler): void {
    this.#loop.start((signal) => this.#fetch(handler, signal, false));
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }

  // The registry client: made at the first poll, and again after stop() closed it (a restarted source).
  #openClient(): OciClient {
    const c = this.#config;
    this.#client ??= new OciClient({
      ref: c.ref,
      credentials: c.credentials,
      insecureHttp: c.insecureHttp,
      ...(c.ca === undefined ? {} : { ca: c.ca }),
      timeoutMs: c.timeoutSeconds * 1000,
    });
    return this.#client;
  }

  // Resolve the digest → (unchanged | refused still served | pack + signature → handler), as remote-fetch.ts does it.
  async #fetch(handler: UpdateHandler, signal: AbortSignal, force: boolean): Promise<UpdateOutcome | undefined> {
    const fetched = await remoteFetch(
      {
        source: 'oci',
        origin: this.#origin,
        now: () => performance.now(),
        download: (s, log) => this.#download(log, s),
        unchanged: { message: 'policy pack unchanged (same manifest digest)', tagField: 'digest' },
        fetchedFields: (p) => ({ reference: this.#origin, manifest: p.etag }),
      },
      this.#ctx,
      this.#memory,
      { handler, signal, force },
    );
    return fetched.outcome;
  }

  // The requests of one poll.
  async #download(log: Logger, signal: AbortSignal): Promise<Found<OciPair>> {
    const { ref, maxBytes, maxBytesKey, readCredentials } = this.#config;
    const client = this.#openClient();
    if (readCredentials !== undefined) client.setCredentials(await readCredentials());
    const digest = ref.pinned ? ref.reference : await client.headManifest(ref.reference, signal);
    const memory = this.#memory;
    if (digest !== undefined && digest === memory.active) return { kind: 'current' };
    const refused = memory.refused;
    const top = await client.getManifest(digest ?? ref.reference, signal);
    if (top.digest === memory.active) return { kind: 'current' };
    const location = await locatePack(client, top, signal);
    const sigRef = await findSignature(client, location.manifest.digest, signal);
    // The refused manifest, still with the same signature referrer: not fetched nor handed over again.
    if (refused !== undefined && refused.etag === top.digest && refused.signatureEtag === sigRef?.digest)
      return { kind: 'refused', refused };
    const packBytes = await client.getBlob(location.layer.digest, maxBytes, maxBytesKey, signal);
    const signature =
      sigRef === undefined ? undefined : await fetchSignatureBytes(client, sigRef, location.manifest, signal);
    if (sigRef === undefined) log.warn({ manifest: location.manifest.digest }, 'no signature referrer found');
    if (isRefusedPair(refused, packBytes, signature)) return { kind: 'refused', refused };
    return {
      kind: 'pair',
      pair: { pack: packBytes, signature, etag: top.digest, signatureEtag: sigRef?.digest },
    };
  }
}
