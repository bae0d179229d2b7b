/**
 * `warden config check FILE`: loads and validates an agent configuration
 * exactly as `warden agent` does before it starts (config/load.ts), and starts
 * nothing: no store, no sources, no files named by the configuration are read.
 * Exit 0 with a one-line summary; an invalid file fails with the agent's own
 * coded error (CONFIG_INVALID, every bad key listed), exit 1.
 */
import { loadConfig, type AgentConfig } from '../../config/load.js';
import { parse, type Command } from '../command.js';
import { summaryOf } from '../registry.js';

const HELP = `Reads FILE as \`warden agent --config FILE\` reads it: YAML, the schema with its
defaults, relative paths resolved against FILE's folder. The files the configuration names
(keys, tokens, the opa binary, directory sources) are not opened: they are often mounted
only where the agent runs (Kubernetes Secrets and ConfigMaps).

Prints one line: the file, its SHA-256, listen, data_dir, and each pack with its source
kind and engine. --json prints the validated configuration, defaults filled in.`;

export const configCheckCommand: Command = {
  name: 'config check',
  summary: summaryOf('config check'),
  usage: 'warden config check FILE [--json]',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, 1);
    if (values.help) {
      io.out(`usage: ${this.usage}\n\n${this.summary}.\n\n${HELP}`);
      return 0;
    }
    const config = await loadConfig(positionals[0] ?? '');
    io.out(values.json === true ? JSON.stringify(config, null, 2) : summaryLine(config));
    return 0;
  },
};

/** `config ok: FILE sha256:… listen=… data_dir=… packs=authz(http,wasm),…`. */
export function summaryLine(config: AgentConfig): string {
  const packs = config.packs.map((p) => `${p.name}(${sourceKind(p.source)},${p.engine ?? config.engine})`);
  const g = config.governance;
  const extras = [
    g
      ? `governance=${g.pack}${g.kill_switches ? `+${g.kill_switches.name}(${sourceKind(g.kill_switches.source)})` : ''}`
      : '',
    config.opa && packs.some((p) => p.endsWith(',opa)')) ? `opa=${config.opa.mode}` : '',
    config.decision_log ? `decision_log=${config.decision_log.service ? 'shipped' : 'local'}` : '',
    config.admin.token_file === undefined ? '' : 'admin=on',
  ].filter((s) => s !== '');
  return [
    `config ok: ${config.configPath}`,
    config.configDigest,
    `listen=${config.listen}`,
    `data_dir=${config.data_dir}`,
    `packs=${packs.join(',')}`,
    ...extras,
  ].join(' ');
}

// The one source kind a pack has (the schema allows exactly one).
function sourceKind(source: AgentConfig['packs'][number]['source']): string {
  return Object.keys(source).find((k) => source[k as keyof typeof source] !== undefined) ?? '?';
}
