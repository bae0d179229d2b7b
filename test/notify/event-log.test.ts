import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WardenError } from '../../src/errors.js';
import { EventLog } from '../../src/notify/event-log.js';
import type { NewEvent, WardenEvent } from '../../src/notify/events.js';
import { TEMP_PREFIX } from '../../src/util/atomic-write.js';
import { tempDir } from '../helpers/fs.js';

// A distinct event; `n` lands in the payload so tests can tell events apart.
function ev(n: number): NewEvent {
  return {
    type: 'policy.updated',
    pack: 'authz',
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    data: { n },
  };
}

// The ids of the events, in order.
const ids = (events: readonly WardenEvent[]): number[] => events.map((e) => e.id);

// The lines of the file at `path`, parsed.
async function fileEvents(path: string): Promise<WardenEvent[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as WardenEvent);
}

describe('event log', () => {
  it('numbers events from 1 and keeps counting across a reopen', async () => {
    const path = join(tempDir(), 'events.ndjson');
    const log = await EventLog.open(path);
    assert.equal(log.lastId(), 0);
    assert.deepEqual(ids([await log.append(ev(1)), await log.append(ev(2))]), [1, 2]);
    await log.close();
    const again = await EventLog.open(path);
    assert.equal(again.lastId(), 2);
    const third = await again.append(ev(3));
    assert.equal(third.id, 3);
    assert.deepEqual(third.data, { n: 3 });
    assert.deepEqual(ids(again.since(0)), [1, 2, 3]);
    await again.close();
    assert.deepEqual(ids(await fileEvents(path)), [1, 2, 3]);
  });

  it('answers since(id) with the held events after id, oldest first', async () => {
    const log = await EventLog.open(join(tempDir(), 'events.ndjson'));
    for (let n = 1; n <= 5; n++) await log.append(ev(n));
    assert.deepEqual(ids(log.since(0)), [1, 2, 3, 4, 5]);
    assert.deepEqual(ids(log.since(3)), [4, 5]);
    assert.deepEqual(ids(log.since(5)), []);
    assert.deepEqual(ids(log.since(99)), []);
    assert.equal(log.firstId(), 1);
    await log.close();
  });

  it('keeps the last maxEvents in memory and compacts the file past twice that, ids continuing', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.ndjson');
    const log = await EventLog.open(path, { maxEvents: 3 });
    for (let n = 1; n <= 6; n++) await log.append(ev(n));
    assert.deepEqual(ids(log.since(0)), [4, 5, 6]);
    assert.equal(log.firstId(), 4);
    assert.deepEqual(ids(await fileEvents(path)), [1, 2, 3, 4, 5, 6], 'not compacted at 2×maxEvents yet');
    await log.append(ev(7));
    assert.deepEqual(ids(await fileEvents(path)), [5, 6, 7], 'compacted to the last maxEvents');
    await log.append(ev(8));
    assert.deepEqual(ids(await fileEvents(path)), [5, 6, 7, 8], 'appends go to the new file');
    await log.close();
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX)),
      [],
    );
    const again = await EventLog.open(path, { maxEvents: 3 });
    assert.equal(again.lastId(), 8);
    assert.equal((await again.append(ev(9))).id, 9);
    assert.deepEqual(ids(again.since(0)), [7, 8, 9]);
    await again.close();
  });

  it('compacts an oversized file at open, keeping the newest ids', async () => {
    const path = join(tempDir(), 'events.ndjson');
    const log = await EventLog.open(path, { maxEvents: 10 });
    for (let n = 1; n <= 12; n++) await log.append(ev(n));
    await log.close();
    const small = await EventLog.open(path, { maxEvents: 4 });
    assert.deepEqual(ids(await fileEvents(path)), [9, 10, 11, 12]);
    assert.equal((await small.append(ev(13))).id, 13);
    await small.close();
  });

  it('drops a torn last line at open and appends cleanly after it', async () => {
    const path = join(tempDir(), 'events.ndjson');
    const log = await EventLog.open(path);
    await log.append(ev(1));
    await log.append(ev(2));
    await log.close();
    // A crash mid-append: half a line, no newline.
    await appendFile(path, '{"id":3,"type":"policy.upd');
    const again = await EventLog.open(path);
    assert.equal(again.skippedAtOpen, 1);
    assert.equal(again.lastId(), 2);
    assert.equal((await again.append(ev(3))).id, 3);
    await again.close();
    assert.deepEqual(ids(await fileEvents(path)), [1, 2, 3]);
  });

  it('skips lines that are not events, or whose ids go backwards', async () => {
    const path = join(tempDir(), 'events.ndjson');
    const line = (id: number): string => `${JSON.stringify({ id, ...ev(id) })}\n`;
    await writeFile(path, `${line(1)}not json\n${line(5)}{"id":6}\n${line(4)}${line(7)}`);
    const log = await EventLog.open(path);
    assert.equal(log.skippedAtOpen, 3);
    assert.deepEqual(ids(log.since(0)), [1, 5, 7]);
    assert.equal((await log.append(ev(8))).id, 8);
    await log.close();
    assert.deepEqual(ids(await fileEvents(path)), [1, 5, 7, 8]);
  });

  it('serialises concurrent appends: distinct ids, file order equals id order', async () => {
    const path = join(tempDir(), 'events.ndjson');
    const log = await EventLog.open(path, { maxEvents: 8 });
    const heard: number[] = [];
    log.onAppend((e) => heard.push(e.id));
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(ev(i))));
    assert.deepEqual(
      ids(results),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      results.map((e) => e.data.n),
      Array.from({ length: 40 }, (_, i) => i),
      'ids follow call order',
    );
    assert.deepEqual(heard, ids(results));
    const onDisk = ids(await fileEvents(path));
    assert.deepEqual(
      onDisk,
      [...onDisk].sort((a, b) => a - b),
    );
    assert.equal(onDisk.at(-1), 40);
    assert.ok(onDisk.length <= 16);
    await log.close();
  });

  it('tells listeners after the write, survives a throwing listener, and removes listeners', async () => {
    const path = join(tempDir(), 'events.ndjson');
    const log = await EventLog.open(path);
    const seen: Array<[number, number]> = [];
    const offBad = log.onAppend(() => {
      throw new Error('listener bug');
    });
    // Reads the file synchronously, inside the call: the event must already be on disk.
    const off = log.onAppend((e) => seen.push([e.id, readFileSync(path, 'utf8').split('\n').length - 1]));
    assert.equal(log.listenerCount(), 2);
    await log.append(ev(1));
    off();
    offBad();
    assert.equal(log.listenerCount(), 0);
    await log.append(ev(2));
    assert.deepEqual(seen, [[1, 1]]);
    await log.close();
  });

  it('finishes pending appends on close and refuses later ones', async () => {
    const log = await EventLog.open(join(tempDir(), 'events.ndjson'));
    const pending = [log.append(ev(1)), log.append(ev(2))];
    await log.close();
    assert.deepEqual(ids(await Promise.all(pending)), [1, 2]);
    await assert.rejects(log.append(ev(3)), (e) => e instanceof WardenError && e.code === 'IO_FAILED');
  });

  it('rejects a maxEvents below 1', async () => {
    await assert.rejects(EventLog.open(join(tempDir(), 'e.ndjson'), { maxEvents: 0 }), RangeError);
  });
});
