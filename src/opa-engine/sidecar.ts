/**
 * Warden driving a real OPA as its engine (`engine: opa`). Warden serves each
 * pack's OPA bundle on a loopback endpoint that OPA long-polls, learns from
 * OPA's status uploads when a revision is active (the acknowledgement), and
 * asks OPA's REST API for decisions. In child mode it spawns `opa run --server`
 * on a unix socket and restarts it when it dies; in connect mode it talks to an
 * OPA someone else runs (a sidecar container) that is configured to pull from
 * the endpoint.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { WardenError } from '../errors.js';
import { locateOpa } from '../opa/locate.js';
import { Backoff } from '../util/backoff.js';
import { Acknowledgements } from './acknowledgements.js';
import { BundleEndpoint } from './bundle-endpoint.js';
import { OpaChild, type ChildExit } from './child.js';
import type { EvaluateOptions } from '../engine/engine.js';
import { DecisionClient } from './decision-client.js';
import { childOpaConfig } from './opa-config.js';
import { killLeftover, removePidFile, writePidFile } from './pid-file.js';
import { ensureRunDir, socketPlace, writeOpaConfig, type SocketPlace } from './run-files.js';
import { describeRefusal, type StatusReport } from './status-report.js';
import type { BundleState, OpaSidecarEvents, OpaSidecarOptions, OpaSidecarState } from './types.js';

const PACK_NAME = /^[A-Za-z0-9._-]+$/;
// A child that stayed up this long before dying starts the restart backoff from its base again.
const STABLE_MS = 10_000;

/** OPA as Warden's engine: see the file comment. */
export class OpaSidecar extends EventEmitter<OpaSidecarEvents> {
  readonly #opts: OpaSidecarOptions;
  readonly #token: string;
  readonly #endpoint: BundleEndpoint;
  readonly #acks = new Acknowledgements();
  readonly #backoff: Backoff;
  readonly #bundles = new Map<string, BundleState>();
  // The revision OPA acknowledged last, per pack: what a restarted child must report before it is up.
  readonly #confirmed = new Map<string, string>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #deadInstances = new Set<string>();
  #client: DecisionClient | undefined;
  #child: OpaChild | undefined;
  #socket: SocketPlace | undefined;
  #configPath = '';
  #opaPath = '';
  #instance: string | undefined;
  #awaiting: Set<string> | undefined;
  #up = false;
  #upAt = 0;
  #restarts = 0;
  #deliveries = 0;
  #closed = false;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(opts: OpaSidecarOptions) {
    super();
    for (const pack of opts.packs) {
      if (!PACK_NAME.test(pack))
        throw new WardenError('USAGE', `OPA bundle name ${JSON.stringify(pack)} is not [A-Za-z0-9._-]+`);
    }
    if (opts.mode === 'connect' && (opts.url === undefined || opts.bearerToken === undefined)) {
      throw new WardenError('USAGE', 'connect mode needs the OPA url and the bearer token its config sends to Warden');
    }
    this.#opts = opts;
    this.#token = opts.bearerToken ?? randomBytes(32).toString('base64url');
    this.#endpoint = new BundleEndpoint({ token: this.#token, packs: opts.packs, logger: opts.logger });
    this.#endpoint.on('served', (pack, etag, since) => this.#acks.served(pack, etag, since));
    this.#endpoint.on('status', (report) => this.#onStatus(report));
    this.#backoff = new Backoff({
      baseMs: opts.restartBackoff?.baseMs ?? 100,
      maxMs: opts.restartBackoff?.maxMs ?? 10_000,
    });
  }

  /** The endpoint's base URL (after start): what OPA's `services.warden.url` names. */
  endpointUrl = '';

  /** Child: kills a leftover OPA, spawns one and waits until it answers. Connect: listens and checks OPA answers. */
  async start(): Promise<void> {
    const listen = this.#opts.bundleListen ?? { host: '127.0.0.1', port: 0 };
    this.endpointUrl = await this.#endpoint.listen(listen.host, listen.port);
    if (this.#opts.mode === 'connect') {
      this.#client = new DecisionClient({ url: this.#opts.url ?? '' });
      if (!(await this.#client.healthy(this.#opts.startTimeoutMs ?? 5000))) {
        await this.close();
        throw new WardenError('OPA_UNAVAILABLE', `OPA at ${this.#opts.url ?? ''} does not answer GET /health`);
      }
      await this.#client.warm(1000);
      this.#markUp();
      return;
    }
    try {
      await ensureRunDir(this.#opts.runDir);
      this.#opaPath = this.#opts.opaPath ?? locateOpa().path;
      await killLeftover(this.#opts.runDir, this.#opts.logger);
      this.#socket = await socketPlace(this.#opts.runDir);
      this.#client = new DecisionClient({ socketPath: this.#socket.path });
      this.#configPath = await writeOpaConfig(
        this.#opts.runDir,
        childOpaConfig({
          serviceUrl: this.endpointUrl,
          token: this.#token,
          packs: this.#opts.packs,
          longPollSeconds: this.#opts.longPollSeconds ?? 30,
        }),
      );
      const failure = await this.#launch();
      if (failure !== undefined) throw new WardenError('OPA_FAILED', `the OPA engine did not start: ${failure}`);
      await this.#client.warm(1000);
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#markUp();
  }

  /**
   * Makes `bundle` the one OPA serves for `pack`; resolves once OPA reports `revision` active.
   * Rejects OPA_BUNDLE_REFUSED (OPA keeps the previous bundle) or OPA_ACTIVATION_TIMEOUT; either
   * way the endpoint serves the previous bundle again. Deliveries to one pack run one at a time.
   * `opts.timeoutMs` overrides the activation timeout for this delivery.
   */
  deliver(pack: string, bundle: Buffer, revision: string, opts: { readonly timeoutMs?: number } = {}): Promise<void> {
    if (!this.#opts.packs.includes(pack)) {
      return Promise.reject(new WardenError('USAGE', `OPA is not configured with a bundle named ${pack}`));
    }
    const run = (this.#chains.get(pack) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#deliver(pack, bundle, revision, opts.timeoutMs ?? this.#opts.activationTimeoutMs));
    this.#chains.set(pack, run);
    return run;
  }

  async #deliver(pack: string, bytes: Buffer, revision: string, timeoutMs: number): Promise<void> {
    if (this.#closed) throw new WardenError('OPA_UNAVAILABLE', 'the OPA engine is closed');
    const previous = this.#endpoint.current(pack);
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const etag = `"${++this.#deliveries}-${digest}"`;
    const ended = this.#acks.wait(pack, revision, etag, timeoutMs);
    this.#endpoint.set(pack, { bytes, etag, revision });
    const end = await ended;
    if (end.kind === 'activated') {
      this.#confirmed.set(pack, revision);
      this.#opts.logger.info({ pack, revision }, 'OPA reports the revision active');
      this.emit('activated', { pack, revision });
      return;
    }
    // Refused or not acknowledged: serve the previous bundle again (OPA keeps it, or gets it back).
    this.#endpoint.set(pack, previous);
    if (end.kind === 'refused') {
      this.#opts.logger.warn(
        { pack, revision, code: end.error.code, err: end.error.message },
        'OPA refused the bundle',
      );
      this.emit('refused', { pack, revision, errors: end.errors });
    } else {
      this.#opts.logger.warn({ pack, revision, code: end.error.code }, end.error.message);
    }
    throw end.error;
  }

  /** The exact JSON text of `result` for POST /v1/data/<path> (undefined: OPA says undefined). */
  evaluate(
    path: string,
    inputJson: string | undefined,
    timeoutMs: number,
    options: EvaluateOptions = {},
  ): Promise<string | undefined> {
    const client = this.#client;
    if (this.#opts.mode === 'child') {
      if (this.#up && client !== undefined) return client.evaluate(path, inputJson, timeoutMs, options);
      const why = this.#closed ? 'the OPA engine is closed' : 'OPA is not up (starting or restarting)';
      return Promise.reject(new WardenError('OPA_UNAVAILABLE', why));
    }
    if (client === undefined)
      return Promise.reject(new WardenError('OPA_UNAVAILABLE', 'the OPA engine is not started'));
    // Connect mode: `up` follows what the last decision met (OPA is someone else's to restart).
    return client.evaluate(path, inputJson, timeoutMs, options).then(
      (result) => {
        this.#up = true;
        return result;
      },
      (err: unknown) => {
        if (err instanceof WardenError && err.code === 'OPA_UNAVAILABLE') this.#up = false;
        throw err;
      },
    );
  }

  /** The sidecar as data. */
  state(): OpaSidecarState {
    const pid = this.#child?.pid;
    return {
      up: this.#up,
      ...(pid !== undefined && this.#opts.mode === 'child' ? { pid } : {}),
      restarts: this.#restarts,
      bundles: Object.fromEntries(this.#opts.packs.map((p) => [p, { ...this.#bundles.get(p) }])),
    };
  }

  /** Stops the child (SIGTERM, then SIGKILL), the endpoint and the client; pending deliveries reject OPA_UNAVAILABLE. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    clearTimeout(this.#restartTimer);
    this.#acks.abandon(new WardenError('OPA_UNAVAILABLE', 'the OPA engine was closed before OPA acknowledged'));
    await this.#child?.stop();
    await this.#endpoint.close().catch(() => undefined);
    this.#client?.close();
    if (this.#opts.mode === 'child') {
      await removePidFile(this.#opts.runDir).catch(() => undefined);
      await this.#socket?.cleanup().catch(() => undefined);
    }
  }

  // Spawns a child and waits for /health; returns why it failed (the child is then stopped), or undefined.
  async #launch(): Promise<string | undefined> {
    const socket = this.#socket;
    const client = this.#client;
    if (socket === undefined || client === undefined) return 'not started';
    await socket.cleanup();
    const args = [
      'run',
      '--server',
      '--addr',
      `unix://${socket.path}`,
      '--config-file',
      this.#configPath,
      '--skip-version-check',
      '--log-level',
      'error',
      '--log-format',
      'json',
      '--shutdown-grace-period',
      '1',
    ];
    const child = new OpaChild(this.#opaPath, args, this.#opts.logger);
    this.#child = child;
    if (child.pid !== undefined) await writePidFile(this.#opts.runDir, child.pid);
    void child.exited.then((exit) => this.#onExit(child, exit));
    let exited = false;
    void child.exited.then(() => (exited = true));
    const end = performance.now() + (this.#opts.startTimeoutMs ?? 20_000);
    while (!exited && !this.#closed && performance.now() < end) {
      if (await client.healthy(1000)) return undefined;
      await sleep(20);
    }
    const why = exited
      ? 'opa exited at start (see the opa log lines)'
      : this.#closed
        ? 'closed'
        : 'opa did not answer /health in time';
    await child.stop();
    return why;
  }

  #onExit(child: OpaChild, exit: ChildExit): void {
    if (child !== this.#child || child.stopping || this.#closed) return;
    this.#up = false;
    if (this.#instance !== undefined) this.#deadInstances.add(this.#instance);
    if (this.#upAt > 0 && performance.now() - this.#upAt > STABLE_MS) this.#backoff.reset();
    this.#upAt = 0;
    const delay = this.#backoff.next();
    this.#opts.logger.warn(
      { pid: child.pid, code: exit.code, signal: exit.signal, restart_in_ms: delay },
      'OPA exited; restarting',
    );
    this.emit('exit', { pid: child.pid, code: exit.code, signal: exit.signal });
    this.#restartTimer = setTimeout(() => void this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    if (this.#closed) return;
    this.#restarts += 1;
    this.#awaiting = new Set(this.#confirmed.keys());
    const failure = await this.#launch();
    if (this.#closed) return;
    this.emit('restarted', { pid: this.#child?.pid, restarts: this.#restarts });
    if (failure !== undefined) {
      this.#up = false;
      const delay = this.#backoff.next();
      this.#opts.logger.warn({ why: failure, restart_in_ms: delay }, 'OPA did not come back; retrying');
      this.#restartTimer = setTimeout(() => void this.#restart(), delay);
      return;
    }
    // The new OPA may already have reported its bundles active while /health was awaited (then it is up).
    if (!this.#up && (this.#awaiting?.size ?? 0) === 0) this.#markUp();
  }

  #markUp(): void {
    this.#awaiting = undefined;
    this.#up = true;
    this.#upAt = performance.now();
    this.emit('up');
  }

  #onStatus(report: StatusReport): void {
    if (report.instance !== undefined) {
      if (this.#deadInstances.has(report.instance)) return;
      this.#instance = report.instance;
    }
    for (const [pack, bundle] of report.bundles) {
      if (!this.#opts.packs.includes(pack)) continue;
      const state: BundleState = {
        ...(bundle.activeRevision !== undefined ? { revision: bundle.activeRevision } : {}),
        ...(bundle.code !== undefined ? { lastError: describeRefusal(bundle) } : {}),
      };
      this.#bundles.set(pack, state);
      this.emit('report', { pack, ...state });
      this.#acks.report(pack, bundle);
      const awaiting = this.#awaiting;
      if (
        awaiting?.has(pack) &&
        bundle.activeRevision !== undefined &&
        bundle.activeRevision === this.#confirmed.get(pack)
      ) {
        awaiting.delete(pack);
        if (awaiting.size === 0 && this.#child !== undefined && !this.#up) this.#markUp();
      }
    }
  }
}
