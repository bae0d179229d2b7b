/**
 * Warden as a library: run an agent in-process, decide without HTTP, and use
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
export { DEFAULT_PACK_LIMITS, type PackLimits } from './pack/limits.js';
export { generateKeys } from './sign/keygen.js';
export { signPack } from './sign/sign.js';
export { keyTrust, keylessTrust, type Trust } from './verify/trust.js';
export { verifyPack, type VerifiedPack, type SignerIdentity } from './verify/verify.js';
