/**
 * Maps a decision path (`authz/allow`) to the activator whose active pack
 * declares it. The table is rebuilt after every activation and swapped whole,
 * so a lookup is one Map read with no locking. A path no pack declares is
 * planned over the active packs (path-plan.ts), after that lookup missed.
 */
import type { ShadowRun } from '../activate/shadow.js';
import type { ActivePack } from '../activate/types.js';

/** What owns a pack's active version: the Activator, or a serving process's copy of it (src/serve/). */
export interface RouteOwner {
  readonly current: ActivePack | undefined;
  readonly shadow: ShadowRun | undefined;
}

/** Entrypoint → owner (activator), over all configured packs. */
export class DecisionRouter<A extends RouteOwner = RouteOwner> {
  #table = new Map<string, A>();

  constructor(private readonly activators: readonly A[]) {}

  /** Recomputes the table from the activators' current packs (first configured pack wins a shared path). */
  rebuild(): void {
    const next = new Map<string, A>();
    for (const a of this.activators) {
      for (const e of a.current?.entrypoints ?? []) if (!next.has(e)) next.set(e, a);
    }
    this.#table = next;
  }

  /** The activator answering `path`, if any. */
  route(path: string): A | undefined {
    return this.#table.get(path);
  }

  /** The active packs, in configured order: for paths no pack declares (path-plan.ts). */
  actives(): ActivePack[] {
    const out: ActivePack[] = [];
    for (const a of this.activators) if (a.current) out.push(a.current);
    return out;
  }

  /** Every routable path, for error messages and health. */
  paths(): string[] {
    return [...this.#table.keys()].sort();
  }
}
