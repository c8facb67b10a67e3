// Rates from two readings of the VMs' counters: per VM and summed for the host, a VM new in the second reading
// counting from zero, and a counter that went down (a daemon restart) never giving a negative rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ratesBetween } from './stats.js';
import type { VmInfo, VmStats } from './model.js';

const ZERO: VmStats = {
  cpu_time_ns: 0, steal_time_ns: 0, instructions: 0, memory_touched_bytes: 0, balloon_mib: 0, disk_read_bytes: 0, disk_write_bytes: 0,
  disk_read_ops: 0, disk_write_ops: 0, net_rx_bytes: 0, net_tx_bytes: 0, net_rx_packets: 0, net_tx_packets: 0, disk_throttled: 0,
  net_throttled: 0, console_output_dropped_bytes: 0, console_input_dropped_bytes: 0, net_rx_dropped_packets: 0,
};

function vm(id: string, stats: Partial<VmStats>, state: VmInfo['state'] = 'running'): VmInfo {
  return {
    id, name: `n-${id}`, state, stats: { ...ZERO, ...stats },
    config: { name: `n-${id}`, vcpus: 2, memory_mib: 128, kernel: '/k', weight: 512, cap: 50, disks: [], nics: [] },
  };
}

const CAP = { pcpus: 2, memory_budget_mib: 1024 };
const AT = new Date('2026-12-05T10:00:00.000Z');

test('rates per VM over the interval, and their sums for the host', () => {
  const prev = { atNs: 0, vms: [vm('a', { cpu_time_ns: 1e9, instructions: 1e6 }), vm('b', {})] };
  const cur = {
    atNs: 2e9,
    vms: [
      vm('a', { cpu_time_ns: 2.5e9, steal_time_ns: 0.2e9, instructions: 201e6, memory_touched_bytes: 5 << 20, disk_read_bytes: 4096, net_tx_bytes: 2000 }),
      vm('b', { cpu_time_ns: 0.5e9, disk_write_bytes: 1000 }, 'paused'),
    ],
  };
  const s = ratesBetween(prev, cur, CAP, AT);
  assert.equal(s.time, '2026-12-05T10:00:00.000Z');
  assert.equal(s.interval_ms, 2000);
  const [a, b] = s.vms;
  assert.deepEqual(
    { cpu: a.cpu_pct, steal: a.steal_pct, mips: a.mips, rd: a.disk_read_bps, tx: a.net_tx_bps, mem: a.memory_touched_bytes },
    { cpu: 75, steal: 10, mips: 100, rd: 2048, tx: 1000, mem: 5 << 20 },
  );
  assert.equal(a.weight, 512);
  assert.equal(a.cap, 50);
  assert.equal(b.cpu_pct, 25);
  assert.equal(b.disk_write_bps, 500);
  assert.deepEqual(
    { cpu: s.host.cpu_pct, mips: s.host.mips, vms: s.host.vms, running: s.host.running, committed: s.host.memory_committed_mib, pcpus: s.host.pcpus },
    { cpu: 100, mips: 100, vms: 2, running: 1, committed: 256, pcpus: 2 },
  );
});

test('a VM new in the second reading counts from its own counters; a counter that went down gives 0', () => {
  const prev = { atNs: 0, vms: [vm('a', { cpu_time_ns: 9e9 })] };
  const cur = { atNs: 1e9, vms: [vm('a', { cpu_time_ns: 1e9 }), vm('new', { cpu_time_ns: 7e9, instructions: 5e9 })] };
  const s = ratesBetween(prev, cur, CAP, AT);
  assert.deepEqual(s.vms.map((v) => [v.id, v.cpu_pct, v.mips]), [['a', 0, 0], ['new', 0, 0]]);
});
