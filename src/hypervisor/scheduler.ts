// The credit scheduler that shares host cores (pCPUs) among vCPUs by weight and cap, modelled on Xen's
// credit scheduler; pure bookkeeping: the caller owns the clock and the pCPU workers.
//
// Algorithm
// - Time is cut into accounting periods (default 30 ms) aligned to multiples of periodNs. At the end of each
//   period, the CPU time charged in it (at most about pcpus × periodNs) is handed out again as credit to the
//   vCPUs that were *active* (runnable at some point) in it: each active VM in proportion to its weight,
//   split evenly among its active vCPUs. A vCPU that never became runnable gets nothing, so idle VMs' shares
//   go to the busy ones. Handing out what was used rather than a fixed pcpus × periodNs keeps credit
//   zero-sum: on a real host slices overrun their grant and pCPUs sit unused between slices (Xen's idle
//   vCPU absorbs that; our workers cannot), and a fixed supply would then fill every vCPU to its ceiling
//   and flatten the weights.
// - Credit is bounded above by one slice plus the vCPU's per-period share (at most one pCPU-period): what
//   would overflow is redistributed by weight to the active vCPUs still below their bound (water-filling),
//   and dropped only when all are full. So a VM cannot bank credit while idle and starve others on waking,
//   and a vCPU that cannot use its share (one vCPU of a heavy VM on 2 pCPUs, a capped VM) passes it on.
// - Running costs credit: charge() subtracts the time run. A vCPU with credit left is UNDER, one in debt
//   is OVER (Xen's priorities); pick() runs UNDER before OVER and, within a class, the vCPU with the most
//   credit (ties: least recently picked). Debt carries over (bounded at 1 s, far beyond any normal overrun),
//   which makes long-run shares converge to the weights; OVER vCPUs still run when nothing is UNDER, so the
//   scheduler is work-conserving.
// - A cap (percent of one pCPU) is a hard ceiling per period: a capped VM's slices are trimmed to its
//   remaining budget (minus what its other running vCPUs have been granted) and to the period's end, and the
//   VM is parked once the budget is gone, until the next period, even if pCPUs are idle.
// - Accounting per vCPU: CPU time (charged), runnable time, and steal time = runnable but not running
//   (including time parked by the cap), which the guest sees through SBI STA.

export interface SchedulerOptions {
  pcpus: number;
  /** Longest time a vCPU runs before the scheduler is asked again; default 10 ms. */
  sliceNs?: number;
  /** Accounting period: credit refill and cap budget; default 30 ms. */
  periodNs?: number;
}

export interface VmSchedParams {
  /** Relative share under contention, 1-65535 (Xen's default is 256). */
  weight: number;
  /** Ceiling in percent of one pCPU per period (150 = one and a half pCPUs); 0 = no cap. */
  cap: number;
}

export interface SchedStats {
  /** Time the vCPU ran (sum of charges). */
  cpuTimeNs: number;
  /** Time runnable but not running: waiting for a pCPU or parked by the cap. */
  stealTimeNs: number;
  /** Time runnable (running or waiting). */
  runnableNs: number;
}

export interface VcpuStats extends SchedStats {
  creditNs: number;
  priority: 'UNDER' | 'OVER';
  runnable: boolean;
  running: boolean;
}

export interface Pick {
  vcpu: string;
  sliceNs: number;
}

const DEFAULT_SLICE_NS = 10_000_000;
const DEFAULT_PERIOD_NS = 30_000_000;
/** Periods processed one by one when the caller was away longer; beyond this the state has settled. */
const MAX_CATCHUP_PERIODS = 16;
/** Debt a vCPU can carry. Generous because a real slice can overrun its grant many times over (a stalled
 *  host thread), and debt forgiven is CPU time handed out twice, which flattens the weights. */
const MAX_DEBT_NS = 1_000_000_000;
/** Capped budget below this is not worth a context switch: the VM waits for the next period. */
const MIN_SLICE_NS = 1000;

interface VmEntry {
  readonly id: string;
  weight: number;
  cap: number;
  readonly vcpus: VcpuEntry[];
  /** CPU used in the current period, for the cap; overrun carries into the next period. */
  usedNs: number;
}

interface VcpuEntry {
  readonly key: string;
  readonly vm: VmEntry;
  credit: number;
  runnable: boolean;
  /** pCPU it runs on, or -1. */
  pcpu: number;
  runStartNs: number;
  grantedNs: number;
  /** Runnable at some time in the current period: earns credit at its end. */
  active: boolean;
  lastPicked: number;
  cpuTimeNs: number;
  stealTimeNs: number;
  runnableNs: number;
  /** Start of the open runnable / waiting interval (NaN when closed). */
  runnableSince: number;
  waitingSince: number;
}

export class CreditScheduler {
  readonly pcpus: number;
  readonly sliceNs: number;
  readonly periodNs: number;
  private readonly vms = new Map<string, VmEntry>();
  private readonly vcpus = new Map<string, VcpuEntry>();
  /** vCPU key running on each pCPU. */
  private readonly onPcpu: (VcpuEntry | null)[];
  /** Start of the current accounting period; NaN until the first call that carries a time. */
  private periodStart = NaN;
  /** CPU time charged in the current period: the credit handed out at its end. */
  private periodChargedNs = 0;
  private pickSeq = 0;

  constructor(opts: SchedulerOptions) {
    if (!Number.isInteger(opts.pcpus) || opts.pcpus < 1) throw new Error(`pcpus must be an integer >= 1, got ${opts.pcpus}`);
    this.pcpus = opts.pcpus;
    this.sliceNs = opts.sliceNs ?? DEFAULT_SLICE_NS;
    this.periodNs = opts.periodNs ?? DEFAULT_PERIOD_NS;
    if (!(this.sliceNs > 0) || !(this.periodNs > 0)) throw new Error('sliceNs and periodNs must be positive');
    this.onPcpu = new Array<VcpuEntry | null>(this.pcpus).fill(null);
  }

  addVm(vmId: string, params: VmSchedParams): void {
    if (this.vms.has(vmId)) throw new Error(`VM ${vmId} is already scheduled; use setParams to change it`);
    checkParams(vmId, params);
    this.vms.set(vmId, { id: vmId, weight: params.weight, cap: params.cap, vcpus: [], usedNs: 0 });
  }

  /** Takes effect at once: the cap for the next pick, the weight from the next refill. */
  setParams(vmId: string, params: VmSchedParams): void {
    const vm = this.vm(vmId);
    checkParams(vmId, params);
    vm.weight = params.weight;
    vm.cap = params.cap;
  }

  /** Forgets the VM; pCPUs running its vCPUs become free and their later charge() is ignored. */
  removeVm(vmId: string): void {
    const vm = this.vm(vmId);
    for (const v of vm.vcpus) {
      if (v.pcpu >= 0) this.onPcpu[v.pcpu] = null;
      this.vcpus.delete(v.key);
    }
    this.vms.delete(vmId);
  }

  /** Registers a vCPU, not runnable until setRunnable(…, true). */
  addVcpu(vmId: string, vcpuIndex: number): string {
    const vm = this.vm(vmId);
    const key = `${vmId}/${vcpuIndex}`;
    if (this.vcpus.has(key)) throw new Error(`vCPU ${key} already exists`);
    const v: VcpuEntry = {
      key, vm, credit: 0, runnable: false, pcpu: -1, runStartNs: 0, grantedNs: 0, active: false, lastPicked: 0,
      cpuTimeNs: 0, stealTimeNs: 0, runnableNs: 0, runnableSince: NaN, waitingSince: NaN,
    };
    vm.vcpus.push(v);
    this.vcpus.set(key, v);
    return key;
  }

  /** A vCPU in WFI is not runnable; a running vCPU stays on its pCPU until charged. */
  setRunnable(vcpuKey: string, runnable: boolean, nowNs: number): void {
    this.advance(nowNs);
    const v = this.vcpu(vcpuKey);
    if (v.runnable === runnable) return;
    v.runnable = runnable;
    if (runnable) {
      v.active = true;
      v.runnableSince = nowNs;
      if (v.pcpu < 0) v.waitingSince = nowNs;
    } else {
      v.runnableNs += nowNs - v.runnableSince;
      v.runnableSince = NaN;
      this.closeWait(v, nowNs);
    }
  }

  /**
   * The vCPU a free pCPU should run next and for how long; null when nothing may run now. `eligible` leaves
   * out vCPUs that cannot run at the moment for reasons of the host (their thread is busy with another VM).
   */
  pick(pcpu: number, nowNs: number, eligible?: (vcpuKey: string) => boolean): Pick | null {
    if (!(pcpu >= 0 && pcpu < this.pcpus)) throw new Error(`no pCPU ${pcpu}`);
    if (this.onPcpu[pcpu]) throw new Error(`pCPU ${pcpu} is still running ${this.onPcpu[pcpu]!.key}; charge it first`);
    this.advance(nowNs);
    let best: VcpuEntry | null = null;
    let bestSlice = 0;
    for (const v of this.vcpus.values()) {
      if (!v.runnable || v.pcpu >= 0) continue;
      if (best && !better(v, best)) continue;
      if (eligible && !eligible(v.key)) continue;
      const slice = this.allowedSlice(v.vm, nowNs);
      if (slice < MIN_SLICE_NS) continue;
      best = v;
      bestSlice = slice;
    }
    if (!best) return null;
    best.pcpu = pcpu;
    best.runStartNs = nowNs;
    best.grantedNs = bestSlice;
    best.lastPicked = ++this.pickSeq;
    this.onPcpu[pcpu] = best;
    this.closeWait(best, nowNs);
    return { vcpu: best.key, sliceNs: bestSlice };
  }

  /** The vCPU ran ranNs (ending at nowNs) and is given back; unknown keys (removed VMs) are ignored. */
  charge(vcpuKey: string, ranNs: number, nowNs: number): void {
    const v = this.vcpus.get(vcpuKey);
    if (!v) return;
    if (v.pcpu < 0) throw new Error(`vCPU ${vcpuKey} is not running`);
    if (!(ranNs >= 0)) throw new Error(`ranNs must be >= 0, got ${ranNs}`);
    this.advance(nowNs);
    this.onPcpu[v.pcpu] = null;
    v.pcpu = -1;
    v.cpuTimeNs += ranNs;
    this.periodChargedNs += ranNs;
    v.credit = Math.max(v.credit - ranNs, -MAX_DEBT_NS);
    // Only the part inside the current period counts against its cap; earlier parts were within the
    // previous period's grant (slices of capped VMs end at the period boundary).
    v.vm.usedNs += Math.min(ranNs, Math.max(0, nowNs - this.periodStart));
    if (v.runnable) v.waitingSince = nowNs;
  }

  /** When something may next become runnable-and-allowed without a setRunnable/charge: nowNs if a vCPU
   *  could be picked now, the next period if a runnable vCPU is parked by its cap, else Infinity. */
  nextEventNs(nowNs: number): number {
    this.advance(nowNs);
    let next = Infinity;
    for (const v of this.vcpus.values()) {
      if (!v.runnable || v.pcpu >= 0) continue;
      if (this.allowedSlice(v.vm, nowNs) >= MIN_SLICE_NS) return nowNs;
      next = this.periodStart + this.periodNs;
    }
    return next;
  }

  /** Accounting of one vCPU; pass nowNs to include the interval still open. */
  stats(vcpuKey: string, nowNs?: number): VcpuStats {
    const v = this.vcpu(vcpuKey);
    const s = this.vcpuTimes(v, nowNs);
    return { ...s, creditNs: v.credit, priority: v.credit > 0 ? 'UNDER' : 'OVER', runnable: v.runnable, running: v.pcpu >= 0 };
  }

  vmStats(vmId: string, nowNs?: number): SchedStats {
    const total: SchedStats = { cpuTimeNs: 0, stealTimeNs: 0, runnableNs: 0 };
    for (const v of this.vm(vmId).vcpus) {
      const s = this.vcpuTimes(v, nowNs);
      total.cpuTimeNs += s.cpuTimeNs;
      total.stealTimeNs += s.stealTimeNs;
      total.runnableNs += s.runnableNs;
    }
    return total;
  }

  /** The vCPU running on each pCPU (null when free). */
  running(): (string | null)[] {
    return this.onPcpu.map((v) => v?.key ?? null);
  }

  private vcpuTimes(v: VcpuEntry, nowNs?: number): SchedStats {
    const openRunnable = nowNs !== undefined && !Number.isNaN(v.runnableSince) ? nowNs - v.runnableSince : 0;
    const openWait = nowNs !== undefined && !Number.isNaN(v.waitingSince) ? nowNs - v.waitingSince : 0;
    return { cpuTimeNs: v.cpuTimeNs, stealTimeNs: v.stealTimeNs + openWait, runnableNs: v.runnableNs + openRunnable };
  }

  private closeWait(v: VcpuEntry, nowNs: number): void {
    if (Number.isNaN(v.waitingSince)) return;
    v.stealTimeNs += nowNs - v.waitingSince;
    v.waitingSince = NaN;
  }

  /** Longest slice the VM may be given now: the default slice, limited by what is left of its cap. */
  private allowedSlice(vm: VmEntry, nowNs: number): number {
    if (vm.cap === 0) return this.sliceNs;
    const periodEnd = this.periodStart + this.periodNs;
    let left = (vm.cap / 100) * this.periodNs - vm.usedNs;
    // Time already granted to its running vCPUs in this period is spoken for.
    for (const o of vm.vcpus) {
      if (o.pcpu >= 0) left -= Math.max(0, o.runStartNs + o.grantedNs - Math.max(o.runStartNs, this.periodStart));
    }
    return Math.min(this.sliceNs, left, periodEnd - nowNs);
  }

  /** Runs the end-of-period accounting for every period boundary up to nowNs. */
  private advance(nowNs: number): void {
    if (Number.isNaN(this.periodStart)) {
      this.periodStart = Math.floor(nowNs / this.periodNs) * this.periodNs;
      return;
    }
    const periods = Math.floor((nowNs - this.periodStart) / this.periodNs);
    if (periods <= 0) return;
    for (let i = 0; i < Math.min(periods, MAX_CATCHUP_PERIODS); i++) this.endPeriod();
    this.periodStart += periods * this.periodNs;
  }

  private endPeriod(): void {
    for (const vm of this.vms.values()) {
      vm.usedNs = Math.max(0, vm.usedNs - (vm.cap / 100) * this.periodNs);
      if (vm.cap === 0) vm.usedNs = 0;
    }
    this.refill(this.periodChargedNs);
    this.periodChargedNs = 0;
    for (const v of this.vcpus.values()) v.active = v.runnable || v.pcpu >= 0;
  }

  /** Hands out one period of credit by weight with water-filling (see the header). */
  private refill(supply: number): void {
    const share = new Map<VcpuEntry, number>();
    for (const vm of this.vms.values()) {
      const active = vm.vcpus.filter((v) => v.active);
      for (const v of active) share.set(v, vm.weight / active.length);
    }
    let totalWeight = 0;
    for (const w of share.values()) totalWeight += w;
    if (totalWeight === 0 || supply <= 0) return;
    const ceiling = new Map<VcpuEntry, number>();
    for (const [v, w] of share) ceiling.set(v, this.sliceNs + Math.min(this.periodNs, (this.pcpus * this.periodNs * w) / totalWeight));
    let pool = supply;
    let open = [...share.keys()];
    while (pool > 0 && open.length > 0) {
      let weight = 0;
      for (const v of open) weight += share.get(v)!;
      let overflow = 0;
      const stillOpen: VcpuEntry[] = [];
      for (const v of open) {
        const credit = v.credit + (pool * share.get(v)!) / weight;
        const max = ceiling.get(v)!;
        if (credit >= max) {
          overflow += credit - max;
          v.credit = max;
        } else {
          v.credit = credit;
          stillOpen.push(v);
        }
      }
      pool = overflow;
      open = stillOpen;
    }
  }

  private vm(vmId: string): VmEntry {
    const vm = this.vms.get(vmId);
    if (!vm) throw new Error(`no VM ${vmId} in the scheduler`);
    return vm;
  }

  private vcpu(key: string): VcpuEntry {
    const v = this.vcpus.get(key);
    if (!v) throw new Error(`no vCPU ${key} in the scheduler`);
    return v;
  }
}

/** UNDER before OVER; then more credit; then the one that waited longest since its last pick. */
function better(a: VcpuEntry, b: VcpuEntry): boolean {
  const au = a.credit > 0;
  const bu = b.credit > 0;
  if (au !== bu) return au;
  if (a.credit !== b.credit) return a.credit > b.credit;
  return a.lastPicked < b.lastPicked;
}

function checkParams(vmId: string, p: VmSchedParams): void {
  if (!Number.isInteger(p.weight) || p.weight < 1 || p.weight > 65535) {
    throw new Error(`VM ${vmId}: weight must be an integer 1-65535, got ${p.weight}`);
  }
  if (!Number.isFinite(p.cap) || p.cap < 0) {
    throw new Error(`VM ${vmId}: cap must be a percentage >= 0 (0 = no cap), got ${p.cap}`);
  }
}
