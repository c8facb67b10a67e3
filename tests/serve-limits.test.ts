// Rate limiters under `tvisor serve`, end to end with the real Debian guest: a disk created with a limiter
// that allows one request a day (taken by the kernel's partition scan) stalls the guest's dd of it (counted as
// throttled), and PATCH /v1/vms/{id}/disks/0 {rate_limiter: null} lets the stalled reads through, live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, stopDaemon, api, waitFor } from './lib/daemon.js';
import { appendAutorun, ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

let guest: GuestImage;
let dir: string;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-serve-limits-'));
  writeFileSync(join(dir, 'data.img'), randomBytes(4 << 20));
  // the guest reads 1 MiB of the disk, then powers off
  writeFileSync(join(dir, 'initrd.cpio'), appendAutorun(readFileSync(guest.initrd), 'dd if=/dev/vda of=/dev/null bs=64k count=16\n'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('serve: a throttled disk stalls the guest\'s reads until PATCH lifts the limit', { timeout: 600_000 }, async () => {
  const d = await startDaemon(join(dir, 'state'), ['--allow-dir', dir, '--allow-dir', guest.dir]);
  try {
    const perDay = { ops: { size: 1, refill_time_ms: 86_400_000 } };
    const vm = await api(d, 'POST', '/v1/vms', {
      name: 'limited', vcpus: 1, memory_mib: 256, kernel: guest.kernel, initrd: join(dir, 'initrd.cpio'),
      disks: [{ path: join(dir, 'data.img'), readonly: true, rate_limiter: perDay }],
    });
    assert.equal(vm.status, 201, JSON.stringify(vm.json));
    const id = vm.json.id;
    const missing = await api(d, 'PATCH', `/v1/vms/${id}/disks/1`, { rate_limiter: null });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.message, `VM ${id} has no disk 1; its disk is numbered from 0 in the order of its definition (GET /v1/vms/${id} shows them)`);
    assert.equal((await api(d, 'PATCH', `/v1/vms/${id}/nics/0`, { rate_limiter: null })).status, 404);
    assert.equal((await api(d, 'PATCH', `/v1/vms/${id}/disks/0`, { rate_limiter: { ops: {} } })).status, 400);

    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    // the kernel's partition scan takes the one token of the day; the guest's dd then waits
    const stalled = await waitFor(d, id, (v) => v.stats.disk_throttled > 0, 'the disk is throttled');
    assert.equal(stalled.stats.disk_read_ops, 1, 'one request a day: only the first one was served');
    await new Promise((r) => setTimeout(r, 2000));
    const still = (await api(d, 'GET', `/v1/vms/${id}`)).json;
    assert.equal(still.stats.disk_read_ops, 1, 'and nothing more two seconds later');
    assert.equal(still.state, 'running');
    const metrics = (await api(d, 'GET', '/metrics')).json as string;
    assert.match(metrics, new RegExp(`^tvisor_vm_disk_throttled_total\\{vm="${id}",name="[^"]+"\\} [1-9]\\d*$`, 'm'), 'the throttling shows in /metrics');
    assert.match(metrics, new RegExp(`^tvisor_vm_disk_ops_total\\{vm="${id}",name="[^"]+"\\} 1$`, 'm'));

    const lifted = await api(d, 'PATCH', `/v1/vms/${id}/disks/0`, { rate_limiter: null });
    assert.equal(lifted.status, 200, JSON.stringify(lifted.json));
    assert.equal(lifted.json.config.disks[0].rate_limiter, undefined, 'the definition no longer has it');
    const done = await waitFor(d, id, (v) => v.state !== 'running', 'the guest finishes its dd and powers off once the limit is lifted');
    assert.equal(done.state, 'stopped');
    assert.ok(done.stats.disk_read_bytes >= 1 << 20, `${done.stats.disk_read_bytes} bytes read`);
    assert.equal((await api(d, 'PATCH', `/v1/vms/${id}/disks/0`, { rate_limiter: perDay })).json.config.disks[0].rate_limiter.ops.size, 1, 'stopped VMs take changes too');
  } finally {
    await stopDaemon(d);
  }
});
