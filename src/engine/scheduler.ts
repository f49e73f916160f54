// One active generation, at most one queued, latest wins (completion.md §5). Pure: it only decides; the
// host carries out the actions. A request cancels active work of equal or lower priority; lower-priority
// work (prefetch, warm-up) waits behind a completion and is replaced by anything newer.
import { PRIORITY, type RequestKind } from './protocol';

export interface Ticket {
  readonly id: number;
  readonly kind: RequestKind;
}

export type SchedulerAction =
  | { readonly type: 'start'; readonly id: number }   // send it to the engine
  | { readonly type: 'cancel'; readonly id: number }  // ask the engine to stop it (it reports back when idle)
  | { readonly type: 'drop'; readonly id: number };   // never started: settle it as cancelled

export class Scheduler {
  private active: Ticket | null = null;
  private cancelling = false;
  private queued: Ticket | null = null;

  get activeId(): number | null {
    return this.active?.id ?? null;
  }

  get queuedId(): number | null {
    return this.queued?.id ?? null;
  }

  submit(ticket: Ticket): SchedulerAction[] {
    if (this.active === null) {
      this.active = ticket;
      return [{ type: 'start', id: ticket.id }];
    }
    const actions: SchedulerAction[] = [];
    const rank = PRIORITY[ticket.kind];
    if (this.queued !== null && PRIORITY[this.queued.kind] > rank) {
      return [{ type: 'drop', id: ticket.id }]; // never displace a more important waiting request
    }
    if (rank >= PRIORITY[this.active.kind] && !this.cancelling) {
      this.cancelling = true;
      actions.push({ type: 'cancel', id: this.active.id });
    }
    if (this.queued !== null) actions.push({ type: 'drop', id: this.queued.id });
    this.queued = ticket;
    return actions;
  }

  cancel(id: number): SchedulerAction[] {
    if (this.queued?.id === id) {
      this.queued = null;
      return [{ type: 'drop', id }];
    }
    if (this.active?.id === id && !this.cancelling) {
      this.cancelling = true;
      return [{ type: 'cancel', id }];
    }
    return [];
  }

  /** The engine finished (or cancelled, or failed) the active request. */
  finished(id: number): SchedulerAction[] {
    if (this.active?.id !== id) return [];
    this.active = this.queued;
    this.queued = null;
    this.cancelling = false;
    return this.active === null ? [] : [{ type: 'start', id: this.active.id }];
  }

  /** The engine died: nothing is active any more; every ticket is dropped. */
  reset(): SchedulerAction[] {
    const ids = [this.active?.id, this.queued?.id].filter((id): id is number => id !== undefined);
    this.active = null;
    this.queued = null;
    this.cancelling = false;
    return ids.map((id) => ({ type: 'drop', id }));
  }
}
