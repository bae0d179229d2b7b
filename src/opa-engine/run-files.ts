/**
 * The child's files in runDir: its OPA config (mode 0600: it holds the bearer
 * token) and its unix socket, whose path must stay under the 108-byte sun_path
 * limit (a deep runDir falls back to a short folder under the system temp dir).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAX_SOCKET_PATH = 100;

/** Where the child listens; `cleanup` removes the socket (and its fallback folder). */
export interface SocketPlace {
  readonly path: string;
  cleanup(): Promise<void>;
}

/** Creates runDir (0700) if missing. */
export async function ensureRunDir(runDir: string): Promise<void> {
  await mkdir(runDir, { recursive: true, mode: 0o700 });
}

/** The socket path: runDir/opa.sock when short enough, else a fresh short folder under tmpdir(). */
export async function socketPlace(runDir: string): Promise<SocketPlace> {
  const inRunDir = join(runDir, 'opa.sock');
  if (Buffer.byteLength(inRunDir) < MAX_SOCKET_PATH) {
    return { path: inRunDir, cleanup: () => rm(inRunDir, { force: true }) };
  }
  const dir = await mkdtemp(join(tmpdir(), 'wopa-'));
  return { path: join(dir, 'opa.sock'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes the child's OPA config as JSON (OPA reads it as YAML); returns its path. */
export async function writeOpaConfig(runDir: string, config: Record<string, unknown>): Promise<string> {
  const path = join(runDir, 'opa-config.json');
  await rm(path, { force: true });
  await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path;
}
