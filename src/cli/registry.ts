/**
 * The command list: names and summaries, with each command's module loaded
 * only when it runs. Loading every command up front cost ~380 ms of start-up
 * (sigstore, fastify, opa-wasm); `pack verify` needs ~127 ms of it
 * (bench/verify.bench.ts).
 */
import type { Command } from './command.js';

/** One entry of `warden --help`. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'agent',
    summary: 'run the agent: sources → verify → store → activate → decision API (see README, "Configuration")',
    load: async () => (await import('./commands/agent.js')).agentCommand,
  },
  {
    name: 'keygen',
    summary: 'write PREFIX.key (private, 0600) and PREFIX.pub (ECDSA P-256 PEM)',
    load: async () => (await import('./commands/keygen.js')).keygenCommand,
  },
  {
    name: 'pack build',
    summary: "compile DIR's Rego (opa build -t wasm), run its tests and golden decisions, write the pack",
    load: async () => (await import('./commands/pack-build.js')).packBuildCommand,
  },
  {
    name: 'pack sign',
    summary: 'sign the exact bytes of FILE with an ECDSA P-256 key; writes a Sigstore bundle FILE.sigstore.json',
    load: async () => (await import('./commands/pack-sign.js')).packSignCommand,
  },
  {
    name: 'pack push',
    summary:
      'publish FILE to an OCI registry as an OPA bundle artefact, its Sigstore bundle (--key, --bundle) attached as a referrer',
    load: async () => (await import('./commands/pack-push.js')).packPushCommand,
  },
  {
    name: 'pack verify',
    summary: 'check a pack: SHA-256, Sigstore signature (key or keyless identity), safe contents, manifest',
    load: async () => (await import('./commands/pack-verify.js')).packVerifyCommand,
  },
  {
    name: 'pack replay',
    summary:
      'ask a verified candidate pack every decision in decision logs (Warden or OPA); report what it changes, gate CI',
    load: async () => (await import('./commands/pack-replay.js')).packReplayCommand,
  },
  {
    name: 'pack serve',
    summary: 'serve the packs in DIR over HTTP (ETag, 304, long polling) for agents to pull',
    load: async () => (await import('./commands/pack-serve.js')).packServeCommand,
  },
  {
    name: 'config check',
    summary: 'validate an agent configuration as `warden agent` does at start, without starting anything',
    load: async () => (await import('./commands/config-check.js')).configCheckCommand,
  },
  {
    name: 'status',
    summary: "show each pack's active version, pin and last error (from a running agent)",
    load: async () => (await import('./commands/admin.js')).statusCommand,
  },
  {
    name: 'versions',
    summary: "list a pack's version history: number, revision, digest, activation, who and why",
    load: async () => (await import('./commands/admin.js')).versionsCommand,
  },
  {
    name: 'diff',
    summary: 'show which Rego modules and data paths changed between two versions, with unified diffs',
    load: async () => (await import('./commands/admin.js')).diffCommand,
  },
  {
    name: 'rollback',
    summary: 'roll back to a version (default: the last-known-good) with a reason, and pin it there',
    load: async () => (await import('./commands/admin.js')).rollbackCommand,
  },
  {
    name: 'pin',
    summary: 'pin a pack to its active version: new packs are verified and recorded, not activated',
    load: async () => (await import('./commands/admin.js')).pinCommand,
  },
  {
    name: 'unpin',
    summary: 'lift the pin and activate the newest verified version',
    load: async () => (await import('./commands/admin.js')).unpinCommand,
  },
  {
    name: 'promote',
    summary: "make a pack's shadow (rollout mode shadow) active now, whatever its gate says",
    load: async () => (await import('./commands/admin.js')).promoteCommand,
  },
];

/** The summary of a command, for its own --help. */
export function summaryOf(name: string): string {
  return COMMANDS.find((c) => c.name === name)?.summary ?? '';
}
