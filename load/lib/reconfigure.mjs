// The reconfiguration scenario's policy updates: every second, data.json of the governance
// pack copy gets a new `load_test.generation` value. No rule reads it, so verdicts stay the
// same, but the pack's content digest changes, so every write is a real reload (build,
// verify, store, activate, decision-cache flush). Writes are atomic (temp file + rename on
// the same file system), so the watcher never sees a half-written file.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Starts rewriting `packDir/data.json` every `intervalMs`; `stop()` returns the number of writes. */
export function startPolicyUpdates({ packDir, scratchDir, intervalMs = 1000 }) {
  const file = join(packDir, 'data.json');
  const tmp = join(scratchDir, 'data.json.next');
  const original = JSON.parse(readFileSync(file, 'utf8'));
  let writes = 0;
  const write = () => {
    writes += 1;
    writeFileSync(tmp, `${JSON.stringify({ ...original, load_test: { generation: writes, written_at: new Date().toISOString() } }, null, 2)}\n`);
    renameSync(tmp, file);
  };
  write();
  const timer = setInterval(write, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return writes;
    },
  };
}
