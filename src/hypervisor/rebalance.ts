// Thread rebalancing (issue 15): with `serve --vms-per-thread N`, idle VMs are packed into shared threads, and
// VMs of one thread never run at the same time. When two of them turn busy while a host CPU has nothing to do,
// one is moved, live (Migrations, within the daemon), to a thread where no busy VM runs, so both run at once.
// The decision (chooseMove) is a pure function of what each VM used over the last period; the Rebalancer asks
// for it periodically and moves at most one VM at a time, each VM at most once per cool-down.

/** A VM as the balancer sees it over the last period. */
export interface VmLoad {
  id: string;
  /** The thread it runs on (VmThread.host: VMs with the same one never run at once). */
  host: object;
  /** Host CPU its vCPUs used in the period. */
  cpuNs: number;
  /** It may be moved now (one vCPU, not being snapshotted or migrated, not moved lately). */
  movable: boolean;
}

/** A VM using at least this share of one host CPU is busy. */
export const BUSY_SHARE = 0.3;
/** A host CPU counts as free when the VMs use at most the host's CPUs less this much. */
export const FREE_PCPU = 0.7;

/**
 * The VM to move, and the threads its new one must not be (those where a busy VM runs); null when no thread
 * holds two busy VMs, or the VMs use the host's CPUs (nothing would run sooner).
 */
export function chooseMove(loads: readonly VmLoad[], periodNs: number, pcpus: number): { id: string; avoid: Set<object> } | null {
  if (periodNs <= 0) return null;
  const used = loads.reduce((sum, l) => sum + l.cpuNs, 0) / periodNs;
  if (used > pcpus - FREE_PCPU) return null;
  const busy = loads.filter((l) => l.cpuNs >= BUSY_SHARE * periodNs);
  const byHost = new Map<object, VmLoad[]>();
  for (const l of busy) byHost.set(l.host, [...(byHost.get(l.host) ?? []), l]);
  for (const sharing of byHost.values()) {
    if (sharing.length < 2) continue;
    // the busiest stays and the next busiest that may move goes; if none may, the busiest goes
    const [first, ...rest] = [...sharing].sort((a, b) => b.cpuNs - a.cpuNs);
    const candidate = rest.find((l) => l.movable) ?? (first.movable ? first : undefined);
    if (candidate) return { id: candidate.id, avoid: new Set(byHost.keys()) };
  }
  return null;
}

/** What the Rebalancer needs from the VM manager. */
export interface RebalanceHost {
  /** Every running VM with its CPU time so far (`cpuNs` cumulative here; the Rebalancer takes the differences). */
  vms(): VmLoad[];
  /** Moves VM `id`, live, to a thread that is none of `avoid` (resolves or rejects when done). */
  move(id: string, avoid: ReadonlySet<object>): Promise<void>;
  nowNs(): number;
}

/** Periodic rebalancing: `tick()` every period (the manager's timer calls it). */
export class Rebalancer {
  /** When tick() last looked (null: never). */
  private lastNs: number | null = null;
  private last = new Map<string, number>();
  /** VMs moved lately, until when (ns) they stay put: a VM is not bounced between threads. */
  private readonly resting = new Map<string, number>();
  private moving = false;

  constructor(private readonly h: RebalanceHost, readonly pcpus: number, readonly coolDownNs = 30e9) {}

  tick(): void {
    const now = this.h.nowNs();
    const vms = this.h.vms();
    const periodNs = this.lastNs === null ? 0 : now - this.lastNs;
    const first = this.lastNs === null;
    const loads: VmLoad[] = [];
    for (const v of vms) {
      const before = this.last.get(v.id);
      // a VM new since the last tick has no period to judge by yet
      if (before !== undefined) {
        loads.push({ id: v.id, host: v.host, cpuNs: Math.max(0, v.cpuNs - before), movable: v.movable && (this.resting.get(v.id) ?? 0) <= now });
      }
    }
    this.last = new Map(vms.map((v) => [v.id, v.cpuNs]));
    for (const [id, until] of this.resting) if (until <= now) this.resting.delete(id);
    this.lastNs = now;
    if (first || this.moving) return;
    const move = chooseMove(loads, periodNs, this.pcpus);
    if (!move) return;
    this.moving = true;
    this.resting.set(move.id, now + this.coolDownNs);
    void this.h.move(move.id, move.avoid).catch(() => {}).finally(() => {
      this.moving = false;
      // its CPU time over a period that included the move says little: judged afresh from the next tick
      this.last.delete(move.id);
    });
  }
}
