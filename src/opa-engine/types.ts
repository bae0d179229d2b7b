/**
 * The shapes of the OPA sidecar engine (`engine: opa`): its options, the state
 * it reports and the events it emits.
 */
import type { Logger } from '../observe/logger.js';

/** How Warden reaches OPA: a child it spawns and supervises, or an OPA someone else runs. */
export type OpaSidecarMode = 'child' | 'connect';

/** Options of an {@link OpaSidecar}. */
export interface OpaSidecarOptions {
  readonly mode: OpaSidecarMode;
  /** Child mode: the opa binary (default: locateOpa()). */
  readonly opaPath?: string;
  /** Connect mode: an existing OPA's base URL, e.g. http://127.0.0.1:8181 (a sidecar in the same pod). */
  readonly url?: string;
  /** Where the child's config, pid file and unix socket live (created if missing). */
  readonly runDir: string;
  /** Bundle names OPA is configured with, one per Warden pack ([A-Za-z0-9._-]+). */
  readonly packs: readonly string[];
  /** The loopback bundle/status endpoint; default 127.0.0.1:0 (child mode). Fixed in connect mode. */
  readonly bundleListen?: { readonly host: string; readonly port: number };
  /** The bearer token OPA must send to the endpoint. Child mode: default a random per-boot token. Connect mode: required (the token file the user's OPA reads). */
  readonly bearerToken?: string;
  /** How long deliver() waits for OPA's acknowledgement. */
  readonly activationTimeoutMs: number;
  /** How long start() (and each restart) waits for the child to answer /health; default 20 s. */
  readonly startTimeoutMs?: number;
  /** Restart delays after an unexpected exit: exponential from baseMs up to maxMs, jittered; default 100 ms … 10 s. */
  readonly restartBackoff?: { readonly baseMs: number; readonly maxMs: number };
  /** OPA's long-polling timeout (seconds) in the child's config; default 30. */
  readonly longPollSeconds?: number;
  readonly logger: Logger;
}

/** What OPA last reported about one bundle. */
export interface BundleState {
  /** The revision OPA reports active (its acknowledgement). */
  readonly revision?: string;
  /** OPA's error for this bundle's last refused download or activation; OPA reports it until it activates a revision again. */
  readonly lastError?: string;
}

/** The sidecar as data (for /healthz and tests). */
export interface OpaSidecarState {
  /** True when decisions can be answered: OPA runs, answers, and (after a restart) serves the acknowledged bundles again. */
  readonly up: boolean;
  readonly pid?: number;
  readonly restarts: number;
  readonly bundles: Record<string, BundleState>;
}

/** The events an OpaSidecar emits. */
export interface OpaSidecarEvents {
  /** The child exited while Warden did not ask it to. */
  exit: [{ readonly pid: number | undefined; readonly code: number | null; readonly signal: NodeJS.Signals | null }];
  /** A replacement child was spawned. */
  restarted: [{ readonly pid: number | undefined; readonly restarts: number }];
  /** Decisions can be answered again (after start or after a restart, once OPA reports its bundles active). */
  up: [];
  /** OPA acknowledged a delivered revision. */
  activated: [{ readonly pack: string; readonly revision: string }];
  /** OPA uploaded its status: what it reports for one pack now. */
  report: [{ readonly pack: string } & BundleState];
  /** OPA refused a delivered bundle (it keeps the previous one). */
  refused: [{ readonly pack: string; readonly revision: string; readonly errors: readonly unknown[] }];
}
