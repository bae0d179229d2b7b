/**
 * The agent's shutdown list: each part that needs closing is pushed as soon
 * as it is started, and closing runs the list last-in-first-out. A running
 * agent's close() and a start that fails half-way therefore undo the same
 * parts in the same order: the reverse of the order they were started in.
 */

/** Closes one started part. */
export type Closer = () => void | Promise<void>;

/** A last-in-first-out list of closers. */
export class Closers {
  readonly #stack: Closer[] = [];

  /** Adds the closer of a part just started; it runs before every closer added earlier. */
  push(close: Closer): void {
    this.#stack.push(close);
  }

  /**
   * Runs every closer, newest first, each awaited before the next; a second
   * call finds nothing left to close. A closer that fails does not keep the
   * older ones from running; the first failure is rethrown at the end.
   */
  async close(): Promise<void> {
    let failed: { readonly err: unknown } | undefined;
    for (let close = this.#stack.pop(); close; close = this.#stack.pop()) {
      try {
        await close();
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  }
}
