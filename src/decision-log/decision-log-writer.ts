/**
 * The decision log's writer thread: a worker_threads Worker started by
 * writer-thread.ts, which owns the log's files (decision-log-files.ts) and
 * makes its lines (lineFormatter), so the thread that answers decisions neither
 * serialises an event nor touches the disk. It answers its requests one at a
 * time, in order: `write` formats a batch (an event that is not JSON is
 * reported by its index and left out) and appends it with one write; `close`
 * flushes and closes the open file. A failure is an answer (`error`), never an
 * exception: the owner counts it, keeps the batch and retries.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { messageOf } from '../errors.js';
import { lineFormatter, type DecisionLogEvent } from './decision-log-event.js';
import { RotatingFiles } from './decision-log-files.js';
import type { WriterInit, WriterReply, WriterRequest } from './writer-thread.js';

const port = parentPort;
if (port === null) throw new Error('decision-log-writer runs as a worker thread (writer-thread.ts starts it)');
const init = workerData as WriterInit;
const files = new RotatingFiles(init.dir, init.maxFileBytes, init.maxFiles);
const format = lineFormatter(init.labels);

let done: Promise<void> = Promise.resolve();
port.on('message', (request: WriterRequest) => {
  done = done.then(async () => port.postMessage(await answer(request)));
});

async function answer(request: WriterRequest): Promise<WriterReply> {
  const { id } = request;
  if (request.type === 'close') {
    try {
      await files.close();
      return { id, lines: 0, invalid: [] };
    } catch (err) {
      return { id, lines: 0, invalid: [], error: messageOf(err) };
    }
  }
  const { events, times } = request;
  const invalid: number[] = [];
  let text = '';
  for (let i = 0; i < events.length; i++) {
    try {
      text += format(events[i] as DecisionLogEvent, times[i] ?? Date.now());
    } catch {
      invalid.push(i);
    }
  }
  const lines = events.length - invalid.length;
  if (lines === 0) return { id, lines, invalid };
  try {
    await files.append(text);
    return { id, lines, invalid };
  } catch (err) {
    return { id, lines: 0, invalid, error: messageOf(err) };
  }
}
