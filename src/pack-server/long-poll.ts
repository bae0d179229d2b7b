/**
 * Requests held open until the file they wait on changes (OPA's bundle long
 * polling). Each waiter ends exactly once: on a change, on its deadline, when
 * its client goes away, or when the server shuts down.
 */
import type { ServedFile } from './pack-index.js';

/** Why a held request ended. */
export type WaitEnd =
  | { readonly kind: 'changed'; readonly file: ServedFile | undefined }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'cancelled' };

interface Waiter {
  readonly end: (how: WaitEnd) => void;
}

/** The held requests, by file name in DIR. */
export class LongPolls {
  readonly #byFile = new Map<string, Set<Waiter>>();
  #count = 0;

  /** Holds until `file` changes or `ms` elapse; `done` runs once. Returns a cancel function (client gone). */
  hold(file: string, ms: number, done: (how: WaitEnd) => void): () => void {
    const set = this.#byFile.get(file) ?? new Set<Waiter>();
    this.#byFile.set(file, set);
    let ended = false;
    const waiter: Waiter = {
      end: (how) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        set.delete(waiter);
        if (set.size === 0 && this.#byFile.get(file) === set) this.#byFile.delete(file);
        this.#count -= 1;
        done(how);
      },
    };
    const timer = setTimeout(() => waiter.end({ kind: 'timeout' }), ms);
    set.add(waiter);
    this.#count += 1;
    return () => waiter.end({ kind: 'cancelled' });
  }

  /** Ends every waiter on `file` with its new version (undefined: removed). */
  release(file: string, next: ServedFile | undefined): void {
    for (const waiter of [...(this.#byFile.get(file) ?? [])]) waiter.end({ kind: 'changed', file: next });
  }

  /** Ends every waiter as if its wait elapsed (shutdown: clients see "no change" and come back). */
  releaseAll(): void {
    for (const set of [...this.#byFile.values()]) for (const waiter of [...set]) waiter.end({ kind: 'timeout' });
  }

  /** How many requests are held now. */
  get size(): number {
    return this.#count;
  }
}
