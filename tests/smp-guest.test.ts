// A multi-vCPU Debian guest under `tvisor serve`: its harts run in parallel threads on different host CPUs
// (shared RAM, device accesses through the VM thread, IPIs and remote fences through the SMP link). Linux
// brings up both CPUs, runs two busy processes at once, and the VM gets about two host CPUs' worth of time;
// the same VM on one pCPU time-shares its harts and still works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { guestFixture, type GuestFixture } from './lib/guest.js';
import { startDaemon, stopDaemon, api, collectConsole } from './lib/daemon.js';

let fx: GuestFixture;

before(async () => {
  fx = await guestFixture('smp');
});

const SCRIPT = `echo cpus=$(grep -c ^processor /proc/cpuinfo)
echo online=$(cat /sys/devices/system/cpu/online)
for i in 1 2; do (while :; do :; done) & done
echo busy-started
sleep 1000
`;

async function runSmp(pcpus: number, t: { diagnostic(s: string): void }): Promise<number> {
  const d = await startDaemon(join(fx.work, `state-${pcpus}`), ['--pcpus', String(pcpus), '--allow-dir', fx.work, '--allow-dir', fx.guest.dir]);
  try {
    const initrd = fx.initrdWith(SCRIPT, 'smp');
    const r = await api(d, 'POST', '/v1/vms', { name: 'smp', vcpus: 2, memory_mib: 256, kernel: fx.guest.kernel, initrd });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id;
    const con = await collectConsole(d, id);
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    await con.waitFor(/busy-started/, 240_000);
    assert.match(con.text(), /cpus=2\r?\n/);
    assert.match(con.text(), /online=0-1\r?\n/);
    await new Promise((r) => setTimeout(r, 1000));
    const a = (await api(d, 'GET', `/v1/vms/${id}`)).json;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 6000));
    const b = (await api(d, 'GET', `/v1/vms/${id}`)).json;
    const wallNs = (performance.now() - t0) * 1e6;
    assert.equal(b.state, 'running');
    const cpus = (b.stats.cpu_time_ns - a.stats.cpu_time_ns) / wallNs;
    const mips = (b.stats.instructions - a.stats.instructions) / (wallNs / 1e3);
    t.diagnostic(`--pcpus ${pcpus}: the 2-vCPU VM used ${cpus.toFixed(2)} host CPUs, ${mips.toFixed(0)} MIPS`);
    con.close();
    return cpus;
  } finally {
    await stopDaemon(d);
  }
}

test('a 2-vCPU guest runs its harts in parallel on 2 pCPUs, and time-shared on 1', async (t) => {
  const two = await runSmp(2, t);
  assert.ok(two > 1.5, `on 2 pCPUs both harts run at once: ${two.toFixed(2)} CPUs`);
  const one = await runSmp(1, t);
  assert.ok(one > 0.8 && one < 1.1, `on 1 pCPU the harts share it: ${one.toFixed(2)} CPUs`);
});
