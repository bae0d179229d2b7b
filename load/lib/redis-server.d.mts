// Types of load/lib/redis-server.mjs, for test/helpers/redis-server.ts.
import type { ChildProcess } from 'node:child_process';

export function redisServerBinary(): string;
export function spawnRedisServer(o: { bin: string; port: number; dir: string; output?: string[] }): {
  child: ChildProcess;
  ready: Promise<ChildProcess>;
};
