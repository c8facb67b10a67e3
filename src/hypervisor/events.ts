// The daemon's VM lifecycle events (created, started, paused, resumed, stopped, crashed, deleted, rebooted, and
// migrated: moved, live, to another thread of the daemon):
// the manager emits them here, and subscribers (GET /v1/events) get each one as it happens. No history is kept.
import type { VmState } from './model.js';
import type { StoredVm } from './stored-vm.js';

export type VmEventKind = 'created' | 'started' | 'paused' | 'resumed' | 'stopped' | 'crashed' | 'deleted' | 'rebooted' | 'migrated';
export const VM_EVENT_KINDS: readonly VmEventKind[] = ['created', 'started', 'paused', 'resumed', 'stopped', 'crashed', 'deleted', 'rebooted', 'migrated'];

/** One event as GET /v1/events sends it (a line of JSON). */
export interface VmEvent {
  /** When it happened: ISO 8601, UTC, milliseconds. */
  time: string;
  id: string;
  name: string;
  event: VmEventKind;
  /** The VM's state after the event (deleted: the state it had). */
  state: VmState;
  /** Why: a crash's reason; for stopped, who stopped it; for rebooted, that the guest asked. */
  reason?: string;
}

/** Why a VM stopped, as `reason` of its stopped event. */
export const STOP_REASONS = {
  api: 'stop requested',
  guestPoweroff: 'the guest powered off',
  guestReboot: 'the guest rebooted (its vCPUs run in threads: the VM starts afresh)',
  restart: 'restart requested',
  shutdown: 'the daemon is shutting down',
  snapshot: 'saved to a snapshot, then stopped as asked',
} as const;

/** The event a state change is, or null when it is none (a state set again, e.g. paused at restore). */
export function transitionEvent(before: VmState, after: VmState): VmEventKind | null {
  if (before === after) return null;
  switch (after) {
    case 'running': return before === 'paused' ? 'resumed' : 'started';
    case 'paused': return before === 'running' ? 'paused' : 'started';
    case 'stopped': return 'stopped';
    case 'crashed': return 'crashed';
    case 'created': return null;
  }
}

export type VmEventSink = (e: VmEvent) => void;

/** Subscribers to the events; each must not block (the API server's clients have bounded queues). */
export class VmEventHub {
  private readonly sinks = new Set<VmEventSink>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  subscribe(sink: VmEventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  get subscribers(): number {
    return this.sinks.size;
  }

  /** Tells every subscriber that `event` happened to `vm` (nothing when null). */
  emit(vm: Pick<StoredVm, 'id' | 'spec' | 'state'>, event: VmEventKind | null, reason?: string): void {
    if (event === null || this.sinks.size === 0) return;
    const e: VmEvent = { time: this.now().toISOString(), id: vm.id, name: vm.spec.name, event, state: vm.state };
    if (reason !== undefined) e.reason = reason;
    for (const s of [...this.sinks]) s(e);
  }
}
