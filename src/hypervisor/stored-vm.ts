// A VM as the daemon keeps it between runs: its definition, what the user last asked it to be and what it
// was last seen doing. The host's store (src/host/node/store.ts) persists it; the manager only needs the shape.
import type { VmSpec, VmState } from './model.js';
import type { MachineDescription } from './machine.js';

/** What the user last asked a VM to be; after a daemon restart the manager may bring it back to this. */
export type DesiredState = 'running' | 'paused' | 'stopped';

/** One VM as persisted. Field names follow the API's (snake_case), since the files are for people too. */
export interface StoredVm {
  id: string;
  /** The definition with live changes (weight, cap) applied. */
  spec: VmSpec;
  /** Balloon target in MiB (PATCH balloon_mib); 0 = deflated. */
  balloon_mib: number;
  desired: DesiredState;
  /** The state last observed; running/paused ones were interrupted by the daemon's end. */
  state: VmState;
  /** Why it crashed, when state is crashed. */
  reason?: string;
  /** ISO 8601. */
  created_at: string;
  /**
   * Created from a snapshot and not yet resumed: the next start builds this machine (the snapshot's, with the
   * VM's own new overlays, `fresh`) and restores the saved guest into it instead of booting.
   */
  restore?: { snapshot: string; machine: MachineDescription; fresh: string[] };
}
