/**
 * Warden as a library: run an agent in-process, decide and ask for verdicts
 * without HTTP, enforce governance in Fastify or Express, and use
 * the pack stages (build, sign, verify, read) directly.
 */
export { startAgent, type RunningAgent } from './agent/agent.js';
export { loadConfig, parseConfig, type AgentConfig } from './config/load.js';
export { Decider, type Decision } from './decide/decider.js';
export { loadWasmEngine, type WasmEngine, type Evaluation } from './engine/wasm.js';
export { ERROR_CODES, WardenError, isWardenError, type ErrorCode, type ErrorKind } from './errors.js';
export { createLogger, type Logger, type LogLevel } from './observe/logger.js';
export { WardenMetrics } from './observe/metrics.js';
export { buildPack, type BuildOptions, type BuiltPack } from './pack/build.js';
export { readPack, type PackFiles } from './pack/reader.js';
export { assembleDataText } from './pack/data.js';
export { DEFAULT_PACK_LIMITS, type PackLimits } from './pack/limits.js';
export { generateKeys } from './sign/keygen.js';
export { signPack } from './sign/sign.js';
export { keyTrust, keylessTrust, type Trust } from './verify/trust.js';
export { verifyPack, type VerifiedPack, type SignerIdentity } from './verify/verify.js';
export { Governance, type Verdict, type VerdictContext, type GovernanceOptions } from './govern/verdict/governance.js';
export { KillSwitches, type SwitchState } from './govern/verdict/kill-switch.js';
export {
  createTenantValidator,
  type TenantContext,
  type TenantValidator,
  type TenantValidatorOptions,
} from './govern/tenant/tenant.js';
export { jwksFromFile } from './govern/tenant/jwks-file.js';
export { jwksFromUrl } from './govern/tenant/jwks.js';
export { DecisionCache } from './govern/cache/decision-cache.js';
export {
  DecisionLog,
  decisionEvent,
  type DecisionLogEvent,
  type DecisionLogOptions,
} from './decision-log/decision-log.js';
export type { ShipperSettings as DecisionLogServiceSettings } from './decision-log/shipper.js';
export {
  createEnforcer,
  type EnforcerOptions,
  type RequestAction,
  type RequestGovernance,
} from './govern/middleware/enforce.js';
export { wardenGovernance, type WardenFastifyOptions } from './govern/middleware/fastify.js';
export { wardenExpress, type WardenMiddleware } from './govern/middleware/express.js';
export { WardenProvider, type WardenProviderOptions } from './openfeature/provider.js';
export type { WardenProviderAgent } from './openfeature/agent-view.js';
