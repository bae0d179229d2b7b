/**
 * Commands against a running agent's admin API: status, versions, diff,
 * rollback, pin, unpin, promote. Each prints a readable summary, or JSON with --json.
 */
import { WardenError } from '../../errors.js';
import { ADMIN_FLAGS, adminCall, adminTarget, packName } from '../admin-client.js';
import { parse, type CliIO, type Command } from '../command.js';
import { summaryOf } from '../registry.js';

interface VersionRow {
  number: number;
  digest: string;
  revision: string;
  sequence: number;
  signer: string;
  origin: string;
  activatedAt?: string;
  storedAt: string;
  active: boolean;
  last_known_good: boolean;
  actor?: string;
  reason?: string;
}

/** A running shadow as /v1/admin/status reports it. */
interface ShadowLine {
  number?: number;
  revision: string;
  digest: string;
  sample: number;
  decisions: number;
  changed: number;
  dropped: number;
  outcomes: Record<string, number>;
  gate: { state: string; reason?: string };
}

// One line per shadow: its version, how many decisions it has seen and changed, and its gate.
function shadowSummary(s: ShadowLine): string {
  const changes = Object.entries(s.outcomes)
    .filter(([o, n]) => o !== 'unchanged' && n > 0)
    .map(([o, n]) => `${o} ${n}`)
    .join(', ');
  return `  shadow v${s.number ?? '?'} ${s.revision} ${s.digest}: ${s.decisions} decisions (sample ${s.sample * 100}%), ${s.changed} changed${changes ? ` (${changes})` : ''}${s.dropped > 0 ? `, ${s.dropped} dropped` : ''}; gate ${s.gate.state}${s.gate.reason ? `: ${s.gate.reason}` : ''}`;
}

const HELP = `Targets --url (or WARDEN_URL, default http://127.0.0.1:8181) with the token in --token-file (or WARDEN_TOKEN_FILE).`;

// Prints help for an admin command.
function help(io: CliIO, name: string, usage: string): number {
  io.out(`usage: ${usage}\n\n${summaryOf(name)}.\n${HELP}`);
  return 0;
}

export const statusCommand: Command = {
  name: 'status',
  summary: summaryOf('status'),
  usage: 'warden status [--url URL] [--token-file F] [--json]',
  async run(argv, io) {
    const { values } = parse(argv, ADMIN_FLAGS, 0);
    if (values.help) return help(io, this.name, this.usage);
    type PackLine = {
      name: string;
      active?: { number?: number; revision: string; digest: string };
      pinned: boolean;
      stale: boolean;
      last_error?: { code: string };
      shadow?: ShadowLine;
    };
    const status = await adminCall<{ packs: PackLine[] }>(await adminTarget(values), 'GET', '/v1/admin/status');
    if (values.json) io.out(JSON.stringify(status));
    else
      for (const p of status.packs) {
        io.out(
          `${p.name}: v${p.active?.number ?? '?'} ${p.active?.revision ?? '-'} ${p.active?.digest ?? 'none'}${p.pinned ? ' PINNED' : ''}${p.stale ? ' stale' : ''}${p.last_error ? ` last error ${p.last_error.code}` : ''}`,
        );
        if (p.shadow) io.out(shadowSummary(p.shadow));
      }
    return 0;
  },
};

export const versionsCommand: Command = {
  name: 'versions',
  summary: summaryOf('versions'),
  usage: 'warden versions [--pack P] [--url URL] [--token-file F] [--json]',
  async run(argv, io) {
    const { values } = parse(argv, ADMIN_FLAGS, 0);
    if (values.help) return help(io, this.name, this.usage);
    const target = await adminTarget(values);
    const pack = await packName(target, values.pack);
    const res = await adminCall<{ versions: VersionRow[]; pinned: { digest: string; reason: string } | null }>(
      target,
      'GET',
      `/v1/admin/packs/${encodeURIComponent(pack)}/versions`,
    );
    if (values.json) {
      io.out(JSON.stringify(res));
      return 0;
    }
    for (const v of res.versions) {
      const flags = [
        v.active ? 'active' : '',
        v.last_known_good ? 'lkg' : '',
        res.pinned?.digest === v.digest ? 'pinned' : '',
      ]
        .filter(Boolean)
        .join(',');
      io.out(
        `v${v.number}\t${v.revision}\t${v.digest.slice(0, 19)}…\t${v.activatedAt ?? 'never active'}\t${flags}${v.reason ? `\t(${v.actor ?? '?'}: ${v.reason})` : ''}`,
      );
    }
    return 0;
  },
};

export const diffCommand: Command = {
  name: 'diff',
  summary: summaryOf('diff'),
  usage: 'warden diff A B [--pack P] [--url URL] [--token-file F] [--json]   (A, B: version numbers or digests)',
  async run(argv, io) {
    const { values, positionals } = parse(argv, ADMIN_FLAGS, 2);
    if (values.help) return help(io, this.name, this.usage);
    const target = await adminTarget(values);
    const pack = await packName(target, values.pack);
    const q = `from=${encodeURIComponent(positionals[0] ?? '')}&to=${encodeURIComponent(positionals[1] ?? '')}`;
    const path = `/v1/admin/packs/${encodeURIComponent(pack)}/diff?${q}`;
    if (values.json) io.out(JSON.stringify(await adminCall<unknown>(target, 'GET', path)));
    else io.out(await adminCall<string>(target, 'GET', `${path}&format=text`, undefined, 'text/plain'));
    return 0;
  },
};

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: summaryOf('rollback'),
  usage:
    'warden rollback [VERSION] --reason TEXT [--pack P] [--url URL] [--token-file F]   (default: the last-known-good)',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...ADMIN_FLAGS, reason: { type: 'string' } }, [0, 1]);
    if (values.help) return help(io, this.name, this.usage);
    if (!values.reason) throw new WardenError('USAGE', '--reason is required: say why you roll back');
    const target = await adminTarget(values);
    const pack = await packName(target, values.pack);
    const res = await adminCall<{ active: { number: number; revision: string; digest: string } }>(
      target,
      'POST',
      `/v1/admin/packs/${encodeURIComponent(pack)}/rollback`,
      {
        reason: values.reason,
        ...(positionals[0] ? { version: positionals[0] } : {}),
      },
    );
    io.out(
      `${pack}: rolled back to v${res.active.number} ${res.active.revision} ${res.active.digest}; PINNED (new packs are recorded, not activated) until \`warden unpin\``,
    );
    return 0;
  },
};

export const pinCommand: Command = {
  name: 'pin',
  summary: summaryOf('pin'),
  usage: 'warden pin --reason TEXT [--pack P] [--url URL] [--token-file F]',
  async run(argv, io) {
    const { values } = parse(argv, { ...ADMIN_FLAGS, reason: { type: 'string' } }, 0);
    if (values.help) return help(io, this.name, this.usage);
    if (!values.reason) throw new WardenError('USAGE', '--reason is required');
    const target = await adminTarget(values);
    const pack = await packName(target, values.pack);
    const res = await adminCall<{ pin: { digest: string } }>(
      target,
      'POST',
      `/v1/admin/packs/${encodeURIComponent(pack)}/pin`,
      { reason: values.reason },
    );
    io.out(`${pack}: pinned to ${res.pin.digest}`);
    return 0;
  },
};

export const promoteCommand: Command = {
  name: 'promote',
  summary: summaryOf('promote'),
  usage: 'warden promote [PACK | --pack P] [--reason TEXT] [--url URL] [--token-file F]',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...ADMIN_FLAGS, reason: { type: 'string' } }, [0, 1]);
    if (values.help) return help(io, this.name, this.usage);
    const target = await adminTarget(values);
    const pack = await packName(target, positionals[0] ?? values.pack);
    const res = await adminCall<{ active: { number: number; revision: string; digest: string } }>(
      target,
      'POST',
      `/v1/admin/packs/${encodeURIComponent(pack)}/promote`,
      { ...(values.reason ? { reason: values.reason } : {}) },
    );
    io.out(`${pack}: shadow promoted; active v${res.active.number} ${res.active.revision} ${res.active.digest}`);
    return 0;
  },
};

export const unpinCommand: Command = {
  name: 'unpin',
  summary: summaryOf('unpin'),
  usage: 'warden unpin [--reason TEXT] [--pack P] [--url URL] [--token-file F]',
  async run(argv, io) {
    const { values } = parse(argv, { ...ADMIN_FLAGS, reason: { type: 'string' } }, 0);
    if (values.help) return help(io, this.name, this.usage);
    const target = await adminTarget(values);
    const pack = await packName(target, values.pack);
    const res = await adminCall<{ active: { number: number; revision: string } | null }>(
      target,
      'POST',
      `/v1/admin/packs/${encodeURIComponent(pack)}/unpin`,
      {
        ...(values.reason ? { reason: values.reason } : {}),
      },
    );
    io.out(`${pack}: unpinned; active v${res.active?.number ?? '?'} ${res.active?.revision ?? ''}`.trimEnd());
    return 0;
  },
};
