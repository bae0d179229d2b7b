/**
 * A pack's shadow log: `<data_dir>/shadow/<pack>.ndjson`, one JSON line per
 * shadow decision whose answer changed, with both answers. Written by the
 * evaluator after each batch (one append per batch), never on the request
 * path. Bounded: before an append would take the file past `maxBytes` it is
 * renamed to `<pack>.1.ndjson` (replacing the older one), so a pack's shadow
 * log takes at most twice `maxBytes`. A failed write is logged once per
 * failure spell and its lines dropped: the counts and the gate do not depend on it.
 */
import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';

/** One pack's bounded shadow log. */
export class ShadowLog {
  readonly path: string;
  readonly #previous: string;
  #size: number | undefined;
  #failing = false;

  constructor(
    readonly dir: string,
    pack: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
  ) {
    this.path = join(dir, `${pack}.ndjson`);
    this.#previous = join(dir, `${pack}.1.ndjson`);
  }

  /** Appends lines (each without its line break). */
  async append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    const bytes = Buffer.byteLength(text);
    try {
      if (this.#size === undefined) {
        await mkdir(this.dir, { recursive: true });
        this.#size = await stat(this.path).then(
          (s) => s.size,
          () => 0,
        );
      }
      if (this.#size > 0 && this.#size + bytes > this.maxBytes) {
        await rename(this.path, this.#previous);
        this.#size = 0;
      }
      await appendFile(this.path, text);
      this.#size += bytes;
      this.#failing = false;
    } catch (err) {
      this.#size = undefined;
      if (!this.#failing)
        this.log.error(
          { code: 'IO_FAILED', path: this.path, err: messageOf(err), dropped: lines.length },
          'writing the shadow log failed; its lines are dropped (counts and gate are unaffected)',
        );
      this.#failing = true;
    }
  }
}
