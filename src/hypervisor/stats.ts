// Resource use as rates: two readings of the VMs' counters (VmStats, cumulative) taken some time apart become,
// per VM and summed for the host, CPU and steal in percent of one host CPU, guest MIPS, and disk and network
// bytes per second. GET /v1/stats pushes one such sample every interval (the web console's graphs), and
// `tvisor top` prints them. Host-neutral: the caller gives the readings and their times.
import type { VmInfo, VmState, VmStats } from './model.js';

/** What sampling needs of the VM manager. */
export interface StatsSource {
  list(): VmInfo[];
  readonly capacity: HostCapacity;
}

/** One VM over one interval. */
export interface VmRates {
  id: string;
  name: string;
  state: VmState;
  vcpus: number;
  memory_mib: number;
  weight: number;
  cap: number;
  /** Time its vCPUs ran, in percent of one host CPU (a VM with 2 busy vCPUs on 2 free CPUs: 200). */
  cpu_pct: number;
  /** Time it was runnable but waited for a host CPU or its cap, in percent of one host CPU. */
  steal_pct: number;
  /** Guest instructions retired, millions per second. */
  mips: number;
  memory_touched_bytes: number;
  balloon_mib: number;
  disk_read_bps: number;
  disk_write_bps: number;
  net_rx_bps: number;
  net_tx_bps: number;
}

/** The host's capacity, as the daemon was started. */
export interface HostCapacity {
  /** Host CPUs the daemon runs vCPUs on (serve --pcpus). */
  pcpus: number;
  /** Guest memory the daemon admits (serve --memory-budget). */
  memory_budget_mib: number;
}

/** The sum over all VMs, and the capacity they share. */
export interface HostRates extends HostCapacity {
  vms: number;
  running: number;
  /** Memory of the VMs' definitions (what the budget is spent on). */
  memory_committed_mib: number;
  cpu_pct: number;
  steal_pct: number;
  mips: number;
  memory_touched_bytes: number;
  disk_read_bps: number;
  disk_write_bps: number;
  net_rx_bps: number;
  net_tx_bps: number;
}

/** What GET /v1/stats sends every interval (one line of JSON). */
export interface StatsSample {
  /** When the second reading was taken: ISO 8601, UTC. */
  time: string;
  /** Milliseconds between the two readings the rates come from. */
  interval_ms: number;
  host: HostRates;
  vms: VmRates[];
}

/** A reading of every VM's counters, and when it was taken (a monotonic clock, ns). */
export interface StatsReading {
  atNs: number;
  vms: readonly VmInfo[];
}

type Counter = keyof Pick<VmStats, 'cpu_time_ns' | 'steal_time_ns' | 'instructions' | 'disk_read_bytes' | 'disk_write_bytes' | 'net_rx_bytes' | 'net_tx_bytes'>;

/**
 * The rates between two readings. A VM new in `cur` counts from its own counters (rates 0); a counter that went
 * down (it cannot, but a daemon restart would make it so) counts as 0.
 */
export function ratesBetween(prev: StatsReading, cur: StatsReading, capacity: HostCapacity, now: Date): StatsSample {
  const dtS = Math.max(1e-9, (cur.atNs - prev.atNs) / 1e9);
  const before = new Map(prev.vms.map((v) => [v.id, v.stats]));
  const vms = cur.vms.map((v): VmRates => {
    const old = before.get(v.id) ?? v.stats;
    const per = (k: Counter) => Math.max(0, v.stats[k] - old[k]) / dtS;
    return {
      id: v.id, name: v.name, state: v.state, vcpus: v.config.vcpus, memory_mib: v.config.memory_mib,
      weight: v.config.weight, cap: v.config.cap,
      cpu_pct: round(per('cpu_time_ns') / 1e7), steal_pct: round(per('steal_time_ns') / 1e7),
      mips: round(per('instructions') / 1e6),
      memory_touched_bytes: v.stats.memory_touched_bytes, balloon_mib: v.stats.balloon_mib,
      disk_read_bps: Math.round(per('disk_read_bytes')), disk_write_bps: Math.round(per('disk_write_bytes')),
      net_rx_bps: Math.round(per('net_rx_bytes')), net_tx_bps: Math.round(per('net_tx_bytes')),
    };
  });
  const sum = (k: 'cpu_pct' | 'steal_pct' | 'mips' | 'memory_touched_bytes' | 'disk_read_bps' | 'disk_write_bps' | 'net_rx_bps' | 'net_tx_bps') =>
    round(vms.reduce((s, v) => s + v[k], 0));
  return {
    time: now.toISOString(),
    interval_ms: round((cur.atNs - prev.atNs) / 1e6),
    host: {
      ...capacity,
      vms: vms.length,
      running: vms.filter((v) => v.state === 'running').length,
      memory_committed_mib: vms.reduce((s, v) => s + v.memory_mib, 0),
      cpu_pct: sum('cpu_pct'), steal_pct: sum('steal_pct'), mips: sum('mips'),
      memory_touched_bytes: sum('memory_touched_bytes'),
      disk_read_bps: sum('disk_read_bps'), disk_write_bps: sum('disk_write_bps'),
      net_rx_bps: sum('net_rx_bps'), net_tx_bps: sum('net_tx_bps'),
    },
    vms,
  };
}

/** Two decimals: the figures are for reading and graphs, not for summing again. */
function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Calls `each` every `intervalMs` with the rates since the previous reading of `m` (the first one interval after
 * the call); returns the function that stops it. GET /v1/stats and the in-process API both sample so.
 */
export function sampleEvery(m: StatsSource, intervalMs: number, each: (s: StatsSample) => void): () => void {
  const read = (): StatsReading => ({ atNs: performance.now() * 1e6, vms: m.list() });
  let prev = read();
  const timer = setInterval(() => {
    const cur = read();
    each(ratesBetween(prev, cur, m.capacity, new Date()));
    prev = cur;
  }, intervalMs);
  return () => clearInterval(timer);
}
