// The VM manager's snapshots and restores with fake VM threads and a fake snapshot source: a snapshot parks the
// VM's vCPUs (no slice is granted while its thread writes), answers with the thread's result and leaves the VM
// as asked; a failed write leaves it as it was; a VM that ends meanwhile fails the snapshot; lifecycle actions
// wait until the write is done. A restore plans the definition (name, overlays, settings) and checks it
// before any file is made, and the VM's first start (only) builds the saved machine and resumes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.js';
import { fakeManager } from './test-manager.js';
import type { VmSpec } from './model.js';
import type { SnapshotSource } from './restore.js';
import type { MachineDescription } from './machine.js';

const spec = (name: string, o: Partial<VmSpec> = {}): VmSpec => ({
  name, vcpus: 1, memory_mib: 64, kernel: '/vms/k', weight: 256, cap: 0, disks: [], nics: [], ...o,
});

function running() {
  const f = fakeManager();
  const id = f.manager.create(spec('web')).id;
  f.manager.start(id);
  const t = f.threads[0];
  t.emit({ t: 'ready' });
  return { ...f, id, t };
}

const runs = (t: { sent: { t: string }[] }) => t.sent.filter((m) => m.t === 'run').length;
const fails = (fn: () => unknown, code: string, message?: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === code && (!message || message.test(e.message)));

test('a snapshot parks the VM while its thread writes, then it runs on; lifecycle actions wait for the write', async () => {
  const { manager, id, t } = running();
  const granted = runs(t);
  const saving = manager.snapshot(id, { path: '/vms/web.snap' });
  assert.deepEqual(t.sent.at(-1), { t: 'snapshot', path: '/vms/web.snap', settings: { weight: 256, cap: 0 } });
  t.emit({ t: 'slice', instructions: 5, elapsedNs: 1e6, idle: false, idleForNs: 0, exit: null });
  assert.equal(runs(t), granted, 'no slice while the snapshot is written');
  assert.equal(manager.inspect(id).state, 'running', 'to the API it stays running');
  fails(() => manager.pause(id), 'conflict', /a snapshot of it is being written/);
  fails(() => manager.stop(id), 'conflict', /a snapshot of it is being written/);
  await assert.rejects(manager.snapshot(id, { path: '/vms/b.snap' }), /being written already/);
  t.emit({ t: 'snapshot-done', bytes: 1234, savedDisks: ['/vms/web.snap.vda.overlay'] });
  const r = await saving;
  assert.equal(r.bytes, 1234);
  assert.deepEqual(r.saved_disks, ['/vms/web.snap.vda.overlay']);
  assert.equal(r.vm.state, 'running');
  assert.ok(runs(t) > granted, 'it runs on');
});

test('after: paused and after: stopped; a paused VM stays paused by default', async () => {
  const { manager, id, t } = running();
  const p = manager.snapshot(id, { path: '/vms/a.snap', after: 'paused' });
  t.emit({ t: 'snapshot-done', bytes: 1, savedDisks: [] });
  assert.equal((await p).vm.state, 'paused');
  const granted = runs(t);
  const q = manager.snapshot(id, { path: '/vms/a.snap' });
  t.emit({ t: 'snapshot-done', bytes: 1, savedDisks: [] });
  assert.equal((await q).vm.state, 'paused');
  assert.equal(runs(t), granted);
  const s = manager.snapshot(id, { path: '/vms/a.snap', after: 'stopped' });
  t.emit({ t: 'snapshot-done', bytes: 1, savedDisks: [] });
  assert.equal((await s).vm.state, 'stopped');
  assert.ok(t.sent.some((m) => m.t === 'stop'));
});

test('a failed write leaves the VM as it was; a refusal is a conflict; a VM that ends meanwhile fails the snapshot', async () => {
  const { manager, id, t } = running();
  const failed = manager.snapshot(id, { path: '/vms/x.snap', after: 'stopped' });
  t.emit({ t: 'snapshot-error', message: 'ENOSPC: no space left on device', refused: false });
  await assert.rejects(failed, (e: unknown) => e instanceof ApiError && e.code === 'snapshot_failed' && /ENOSPC.*the VM is running/.test(e.message));
  assert.equal(manager.inspect(id).state, 'running');
  const granted = runs(t);
  t.emit({ t: 'slice', instructions: 5, elapsedNs: 1e6, idle: false, idleForNs: 0, exit: null }); // the slice granted before
  assert.ok(runs(t) > granted, 'unparked: it gets the next one');

  const refused = manager.snapshot(id, { path: '/vms/notes.txt' });
  t.emit({ t: 'snapshot-error', message: '/vms/notes.txt exists and is not a tvisor snapshot', refused: true });
  await assert.rejects(refused, (e: unknown) => e instanceof ApiError && e.code === 'conflict');

  const ended = manager.snapshot(id, { path: '/vms/y.snap' });
  t.emit({ t: 'crash', reason: 'internal error: boom' });
  await assert.rejects(ended, (e: unknown) => e instanceof ApiError && e.code === 'snapshot_failed' && /crashed before the snapshot was written/.test(e.message));
  await assert.rejects(manager.snapshot(id, { path: '/vms/y.snap' }), (e: unknown) => e instanceof ApiError && e.code === 'conflict', 'a crashed VM has no machine');
});

test('refused before anything happens: a stopped VM, parallel vCPUs, a path outside the allowed directories', async () => {
  const f = fakeManager({ allowedDirs: ['/vms'] });
  const id = f.manager.create(spec('web', { vcpus: 2 })).id;
  await assert.rejects(f.manager.snapshot(id, { path: '/vms/a.snap' }), /cannot snapshot VM .* it is created/);
  f.manager.start(id);
  await assert.rejects(f.manager.snapshot(id, { path: '/vms/a.snap' }), /vCPUs run in parallel threads/);
  const id2 = f.manager.create(spec('one')).id;
  f.manager.start(id2);
  await assert.rejects(f.manager.snapshot(id2, { path: '/etc/a.snap' }), (e: unknown) => e instanceof ApiError && e.code === 'forbidden_path');
});

/** A source for a machine with disks vda (an overlay, saved) and vdb (read-only), recording what it was asked. */
function source(made: string[][], discarded: string[][]): SnapshotSource {
  const machine: MachineDescription = {
    name: 'web', memoryBytes: 128 << 20, vcpus: 1, kernel: '/vms/k', initrd: '/vms/i', cmdline: 'console=ttyS0',
    devices: [
      { kind: 'block', path: '/vms/base.img', overlay: '/vms/web.overlay', serial: 'web-vda' },
      { kind: 'block', path: '/vms/ro.img', readOnly: true },
      { kind: 'net', mac: '52:54:00:00:00:01', backend: { kind: 'socket', mode: 'listen', host: '127.0.0.1', port: 1 } },
      { kind: 'rng' },
    ],
  };
  return {
    machine, settings: { weight: 512, cap: 50 }, savedDisks: ['vda'],
    defaultOverlay: (name, disk) => `/vms/web.snap.${name}.${disk}`,
    clone: (name, overlays) => {
      made.push(Object.values(overlays));
      return { machine: { ...machine, name, devices: machine.devices.map((d) => (d.kind === 'block' && !d.readOnly ? { ...d, overlay: overlays.vda } : d)) }, made: Object.values(overlays) };
    },
    discard: (files) => discarded.push(files),
  };
}

test('a restore: the definition planned and checked first, then the overlays made; its first start resumes the saved machine', () => {
  const made: string[][] = [];
  const discarded: string[][] = [];
  const f = fakeManager({ allowedDirs: ['/vms'], openSnapshot: () => source(made, discarded) });
  const m = f.manager;
  m.create(spec('web'));
  fails(() => m.createFromSnapshot({ snapshot: '/vms/web.snap' }), 'conflict', /a VM named "web" already exists/);
  fails(() => m.createFromSnapshot({ snapshot: '/vms/web.snap', name: 'c', overlays: { vdb: '/vms/x' } }), 'bad_request', /saved no overlay of disk vdb \(only of vda\)/);
  fails(() => m.createFromSnapshot({ snapshot: '/vms/web.snap', name: 'c', overlays: { vda: '/tmp/x' } }), 'forbidden_path');
  fails(() => m.createFromSnapshot({ snapshot: '/tmp/web.snap', name: 'c' }), 'forbidden_path');
  fails(() => m.createFromSnapshot({ snapshot: '/vms/web.snap', name: 'bad name' }), 'bad_request');
  assert.deepEqual(made, [], 'nothing made for a refused restore');

  const a = m.createFromSnapshot({ snapshot: '/vms/web.snap', name: 'a' });
  assert.equal(a.state, 'created');
  assert.equal(a.resumes_from, '/vms/web.snap');
  assert.deepEqual(a.config, {
    name: 'a', vcpus: 1, memory_mib: 128, kernel: '/vms/k', initrd: '/vms/i', cmdline: 'console=ttyS0', weight: 512, cap: 50,
    disks: [{ path: '/vms/base.img', readonly: false, overlay: '/vms/web.snap.a.vda' }, { path: '/vms/ro.img', readonly: true }],
    nics: [{ mac: '52:54:00:00:00:01' }],
  });
  const b = m.createFromSnapshot({ snapshot: '/vms/web.snap', name: 'b', overlays: { vda: '/vms/b.overlay' }, weight: 100 });
  assert.equal(b.config.disks[0].overlay, '/vms/b.overlay');
  assert.equal(b.config.weight, 100);
  assert.deepEqual(made, [['/vms/web.snap.a.vda'], ['/vms/b.overlay']]);

  m.start(b.id);
  const t = f.threads.at(-1)!;
  const init = t.sent.find((x) => x.t === 'init');
  assert.ok(init && init.t === 'init');
  assert.deepEqual(init.config.restore, { snapshot: '/vms/web.snap', fresh: ['/vms/b.overlay'] });
  const devices = init.config.machine.devices;
  assert.equal(devices.length, 4, 'the saved machine, device for device (no balloon added)');
  assert.deepEqual(devices[2], { kind: 'net', mac: '52:54:00:00:00:01', backend: { kind: 'switch' } }, 'NICs become switch ports');
  assert.match((devices[0] as { owner?: string }).owner ?? '', /b/, 'disks are locked in the new VM\'s name');
  t.emit({ t: 'ready' });
  assert.equal(m.inspect(b.id).resumes_from, undefined);
  assert.equal(f.lastSaved(b.id)?.restore, undefined, 'stored: later starts boot the definition');
  m.stop(b.id);
  m.start(b.id);
  t.emit({ t: 'stopped' }); // the old thread closed its disks: the new one may open them
  const again = f.threads.at(-1)!.sent.find((x) => x.t === 'init');
  assert.ok(again && again.t === 'init' && again.config.restore === undefined);
  assert.deepEqual(discarded, []);
});

test('a restore the store cannot keep removes the overlays it made', () => {
  const made: string[][] = [];
  const discarded: string[][] = [];
  let fail = false;
  const f = fakeManager({
    openSnapshot: () => source(made, discarded),
    store: { save: () => { if (fail) throw new Error('EIO'); }, remove: () => true, newId: () => '0000000a' },
  });
  fail = true;
  assert.throws(() => f.manager.createFromSnapshot({ snapshot: '/vms/web.snap', name: 'a' }), /EIO/);
  assert.deepEqual(discarded, [['/vms/web.snap.a.vda']]);
});
