// The VM manager's snapshots and restores with fake VM threads and a fake snapshot source: a snapshot parks the
// VM's vCPUs (no slice is granted while its thread writes), answers with the thread's result and leaves the VM
// as asked; a failed write leaves it as it was; a VM that ends meanwhile fails the snapshot; lifecycle actions
// wait until the write is done. A restore plans the definition (name, overlays, settings) and checks it
// before any file is made, and the VM's first start (only) builds the saved machine and resumes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.js';
import { fakeManager, type FakeThread } from './test-manager.js';
import type { VmSpec } from './model.js';
import type { SnapshotSource } from './restore.js';
import type { MachineDescription } from './machine.js';
import type { FromVm, SmpShare, ToVm } from './protocol.js';
import type { RemoteHartState } from '../core/snapshot/hart.js';
import type { MigrationLink, MigrationMessage } from './migration.js';

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
  fails(() => manager.pause(id), 'conflict', /a snapshot of it is in progress/);
  fails(() => manager.stop(id), 'conflict', /a snapshot of it is in progress/);
  await assert.rejects(manager.snapshot(id, { path: '/vms/b.snap' }), /a snapshot of it is in progress/);
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
  await assert.rejects(ended, (e: unknown) => e instanceof ApiError && e.code === 'snapshot_failed' && /the VM crashed meanwhile \(internal error: boom\)/.test(e.message));
  await assert.rejects(manager.snapshot(id, { path: '/vms/y.snap' }), (e: unknown) => e instanceof ApiError && e.code === 'conflict', 'a crashed VM has no machine');
});

test('refused before anything happens: a stopped VM, a path outside the allowed directories', async () => {
  const f = fakeManager({ allowedDirs: ['/vms'] });
  const id = f.manager.create(spec('web')).id;
  await assert.rejects(f.manager.snapshot(id, { path: '/vms/a.snap' }), /cannot snapshot VM .* it is created/);
  f.manager.start(id);
  await assert.rejects(f.manager.snapshot(id, { path: '/etc/a.snap' }), (e: unknown) => e instanceof ApiError && e.code === 'forbidden_path');
});

test('a VM whose harts run in hart threads: each saves its hart there, and the VM thread writes them with the rest', async () => {
  const harts: FakeThread[] = [];
  const f = fakeManager({
    spawnHart: () => {
      let handler: (m: FromVm) => void = () => {};
      const t: FakeThread = { sent: [], emit: (m) => handler(m) };
      harts.push(t);
      return { send: (m) => t.sent.push(m), onMessage: (fn) => (handler = fn), onExit: () => {}, terminate: () => {} };
    },
  });
  const id = f.manager.create(spec('duo', { vcpus: 2 })).id;
  f.manager.start(id);
  const t = f.threads[0];
  const smp = { memory: null, touched: null, link: null, mmio: [], epochMs: 0, mtimeOffset: 0, ramBase: 0, ramSize: 0, harts: 2 } as unknown as SmpShare;
  t.emit({ t: 'ready', smp });
  assert.equal(harts.length, 1);
  harts[0].emit({ t: 'ready' });
  const saving = f.manager.snapshot(id, { path: '/vms/duo.snap' });
  await tick();
  assert.deepEqual(t.sent.at(-1), { t: 'ping' }, 'hart 0 ends its slice first (an IPI it sends must not miss a saved hart)');
  assert.ok(!harts[0].sent.some((m) => m.t === 'hart-save'));
  t.emit({ t: 'pong' });
  await tick();
  assert.deepEqual(harts[0].sent.at(-1), { t: 'hart-save' });
  assert.ok(!t.sent.some((m) => m.t === 'snapshot'), 'the VM thread writes once every hart is saved');
  const state = { hart: { saved: 1 }, sbi: { sta: [null, null] } } as unknown as RemoteHartState;
  harts[0].emit({ t: 'hart-state', state });
  await tick();
  const write = t.sent.at(-1)!;
  assert.ok(write.t === 'snapshot');
  assert.deepEqual(write.remote, [state]);
  t.emit({ t: 'snapshot-done', bytes: 1, savedDisks: [] });
  assert.equal((await saving).vm.state, 'running');
  // a hart that cannot be saved fails the snapshot, and the VM runs on
  const failing = f.manager.snapshot(id, { path: '/vms/duo.snap' });
  await tick();
  t.emit({ t: 'pong' });
  await tick();
  harts[0].emit({ t: 'hart-error', message: 'no machine' });
  await assert.rejects(failing, /no machine/);
  assert.equal(f.manager.inspect(id).state, 'running');
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

/** Answers a migration as the VM thread would: `rounds` pre-copy batches of `counts` pages, then the final one. */
function pagesOf(count: number): ArrayBuffer {
  const buf = new ArrayBuffer(count * 4100);
  for (let i = 0; i < count; i++) new DataView(buf).setUint32(i * 4100, i, true);
  return buf;
}
const tick = () => new Promise((r) => setImmediate(r));
/** The last migration message a fake thread was sent. */
const lastMigrate = (t: { sent: { t: string }[] }) => t.sent.filter((m) => m.t.startsWith('migrate')).at(-1);

/** The 'incoming-pages' batches a thread was sent, by their sizes in pages. */
const incoming = (t: { sent: ToVm[] }) => t.sent.flatMap((m) => (m.t === 'incoming-pages' ? [m.pages.byteLength / 4100] : []));

test('a migration builds the machine in a new thread, copies pages there while the VM runs, parks it for the rest, and resumes it there', async () => {
  const { manager, threads, id, t } = running();
  const moving = manager.migrate(id);
  const next = threads[1];
  const init = next.sent[0];
  assert.ok(init.t === 'init' && init.config.restore && 'incoming' in init.config.restore, 'the new thread builds the machine at once');
  assert.deepEqual(t.sent.at(-1), { t: 'migrate-pages', all: true });
  t.emit({ t: 'migrate-pages', pages: pagesOf(1000), count: 1000 });
  await tick();
  assert.deepEqual(incoming(next), [1000], 'the pages go to the new thread as they are taken');
  assert.deepEqual(next.sent.at(-1), { t: 'ping' }, 'and the next round waits until it has them');
  const granted = runs(t);
  t.emit({ t: 'slice', instructions: 5, elapsedNs: 1e6, idle: false, idleForNs: 0, exit: null });
  assert.ok(runs(t) > granted, 'the guest runs on during the pre-copy');
  assert.deepEqual(lastMigrate(t), { t: 'migrate-pages', all: true }, 'no second round before the first is in');
  next.emit({ t: 'incoming-ready' });
  next.emit({ t: 'pong' });
  await tick();
  assert.deepEqual(lastMigrate(t), { t: 'migrate-pages', all: false });
  fails(() => manager.stop(id), 'conflict', /a migration of it is in progress/);
  t.emit({ t: 'migrate-pages', pages: pagesOf(10), count: 10 }); // few enough: stop-and-copy next
  await tick();
  next.emit({ t: 'pong' });
  await tick();
  await tick();
  assert.deepEqual(lastMigrate(t), { t: 'migrate-final' });
  const parked = runs(t);
  t.emit({ t: 'slice', instructions: 5, elapsedNs: 1e6, idle: false, idleForNs: 0, exit: null });
  assert.equal(runs(t), parked, 'parked for the stop-and-copy');
  t.emit({ t: 'migrate-final', pages: pagesOf(3), count: 3, state: { saved: true } });
  await tick();
  assert.deepEqual(incoming(next), [1000, 10, 3]);
  assert.ok(t.sent.some((m) => m.t === 'stop'), 'the old thread lets go');
  assert.ok(!next.sent.some((m) => m.t === 'incoming-final'), 'the new thread waits for the old one to close the disks');
  t.emit({ t: 'stopped' });
  const final = next.sent.at(-1)!;
  assert.ok(final.t === 'incoming-final');
  assert.deepEqual(final.state, { saved: true });
  assert.match(final.owner, /^VM .* \(web\)$/, 'the disks are locked in the VM\'s name');
  next.emit({ t: 'ready' });
  const r = await moving;
  assert.equal(r.rounds, 3);
  assert.equal(r.pages_sent, 1013);
  assert.equal(r.vm.state, 'running');
  assert.ok(runs(next) > 0, 'the guest runs in its new thread');
});

test('a migration that fails before the switch leaves the VM running where it was; after it, the VM crashes with the reason', async () => {
  const { manager, threads, id, t } = running();
  const failing = manager.migrate(id);
  t.emit({ t: 'migrate-error', message: 'boom' });
  await assert.rejects(failing, (e: unknown) => e instanceof ApiError && e.code === 'migration_failed' && /boom; it runs on as it did \(running\)/.test(e.message));
  assert.deepEqual(lastMigrate(t), { t: 'migrate-abort' });
  assert.equal(manager.inspect(id).state, 'running');

  const unbuilt = manager.migrate(id);
  threads.at(-1)!.emit({ t: 'init-error', message: 'virtio-blk vda: cannot read /vms/a.img' });
  t.emit({ t: 'migrate-pages', pages: pagesOf(1), count: 1 });
  await assert.rejects(unbuilt, /its machine cannot be built here: virtio-blk vda: cannot read .*it runs on as it did \(running\)/);
  assert.deepEqual(lastMigrate(t), { t: 'migrate-abort' });

  const late = manager.migrate(id);
  const next = threads.at(-1)!;
  next.emit({ t: 'incoming-ready' });
  t.emit({ t: 'migrate-pages', pages: pagesOf(1), count: 1 });
  await tick();
  next.emit({ t: 'pong' });
  await tick();
  t.emit({ t: 'migrate-pages', pages: pagesOf(1), count: 1 });
  await tick();
  next.emit({ t: 'pong' });
  await tick();
  await tick();
  t.emit({ t: 'migrate-final', pages: pagesOf(1), count: 1, state: {} });
  await tick();
  t.emit({ t: 'stopped' });
  next.emit({ t: 'init-error', message: 'restoring: bad state' });
  await assert.rejects(late, /could not migrate .*bad state.*it is crashed/);
  assert.match(manager.inspect(id).reason ?? '', /cannot resume the moved guest: restoring: bad state/);
});

test('an incoming migration: admitted at begin, its machine built, pages bounded by the VM\'s RAM, defined and resumed at final', async () => {
  const f = fakeManager();
  const m = f.manager;
  const machine: MachineDescription = { name: 'w', memoryBytes: 64 << 20, vcpus: 1, kernel: '/vms/k', cmdline: '', devices: [{ kind: 'rng' }] };
  const begin = { t: 'begin' as const, spec: spec('w'), machine, balloon_mib: 0, paused: false };
  const bad = m.incomingMigration();
  fails(() => bad.pages(pagesOf(1)), 'bad_request', /before the migration began/);
  await assert.rejects(bad.final({}), /did not begin/);
  m.create(spec('w'));
  await assert.rejects(bad.begin(begin), (e: unknown) => e instanceof ApiError && e.code === 'conflict' && /a VM named "w" already exists/.test(e.message));

  const inc = m.incomingMigration();
  const begun = inc.begin({ ...begin, spec: spec('w2') });
  const thread = f.threads.at(-1)!;
  const init = thread.sent[0];
  assert.ok(init.t === 'init' && init.config.restore && 'incoming' in init.config.restore, 'a thread builds the machine at begin');
  assert.deepEqual(init.config.machine.devices, [{ kind: 'rng' }], 'the machine the guest runs, as it came');
  thread.emit({ t: 'incoming-ready' });
  thread.emit({ t: 'pong' });
  await begun;
  const beyond = new ArrayBuffer(4100);
  new DataView(beyond).setUint32(0, 64 * 256, true); // the first page past 64 MiB
  fails(() => inc.pages(beyond), 'bad_request', /beyond the VM's 64 MiB of RAM/);
  fails(() => inc.pages(new ArrayBuffer(100)), 'bad_request', /not a whole number/);
  inc.pages(pagesOf(5));
  assert.deepEqual(incoming(thread), [5], 'only whole batches within RAM go to the thread');
  const synced = inc.sync();
  thread.emit({ t: 'pong' });
  await synced;
  const arriving = inc.final({ saved: 1 });
  await tick();
  const final = thread.sent.at(-1)!;
  assert.ok(final.t === 'incoming-final' && (final.state as { saved: number }).saved === 1);
  assert.match(final.owner, /\(w2\)/);
  thread.emit({ t: 'ready' });
  const vm = await arriving;
  assert.equal(vm.name, 'w2');
  assert.equal(vm.state, 'running');

  const failed = m.incomingMigration();
  const refused = failed.begin({ ...begin, spec: spec('w3') });
  f.threads.at(-1)!.emit({ t: 'init-error', message: 'virtio-blk vda: cannot read /vms/x.img' });
  await assert.rejects(refused, (e: unknown) => e instanceof ApiError && e.code === 'migration_failed' && /cannot be built here: virtio-blk vda/.test(e.message));
  assert.throws(() => m.inspect('w3'));
});

test('a migration to another daemon that fails after the switch resumes the guest here, from the pages it sent', async () => {
  const sent: (MigrationMessage | ArrayBuffer)[] = [];
  const answers: MigrationMessage[] = [];
  let wake: (() => void) | null = null;
  const link: MigrationLink = {
    send: (m) => sent.push(m),
    sendPages: (b) => sent.push(b),
    next: async () => {
      while (answers.length === 0) await new Promise<void>((r) => (wake = r));
      return answers.shift()!;
    },
    close: () => {},
  };
  const answer = (m: MigrationMessage) => {
    answers.push(m);
    wake?.();
  };
  const f = fakeManager({ connectDaemon: async () => link });
  const id = f.manager.create(spec('web')).id;
  f.manager.start(id);
  const t = f.threads[0];
  t.emit({ t: 'ready' });
  const moving = f.manager.migrate(id, { to: 'http://other:8080' });
  await tick();
  assert.equal((sent[0] as MigrationMessage).t, 'begin');
  answer({ t: 'accepted' });
  await tick();
  t.emit({ t: 'migrate-pages', pages: pagesOf(20), count: 20 });
  await tick();
  assert.deepEqual(sent.slice(1).map((m) => (m instanceof ArrayBuffer ? m.byteLength / 4100 : m.t)), [20, 'sync'], 'each round waits for the other daemon to have it');
  answer({ t: 'synced' });
  await tick();
  await tick();
  t.emit({ t: 'migrate-pages', pages: pagesOf(2), count: 2 });
  await tick();
  answer({ t: 'synced' });
  await tick();
  await tick();
  t.emit({ t: 'migrate-final', pages: pagesOf(1), count: 1, state: { at: 'switch' } });
  await tick();
  t.emit({ t: 'stopped' }); // the disks are closed: the other daemon may open them
  await tick();
  assert.deepEqual(sent.at(-1), { t: 'final', state: { at: 'switch' } });
  answer({ t: 'error', code: 'migration_failed', message: 'the guest could not be resumed here: EIO' });
  await tick();
  await tick();
  const back = f.threads.at(-1)!;
  assert.notEqual(back, t);
  assert.deepEqual(incoming(back), [20], 'every page sent, its latest copy, in one batch');
  back.emit({ t: 'incoming-ready' });
  back.emit({ t: 'pong' });
  await tick();
  await tick();
  const final = back.sent.at(-1)!;
  assert.ok(final.t === 'incoming-final');
  assert.deepEqual(final.state, { at: 'switch' });
  back.emit({ t: 'ready' });
  await assert.rejects(moving, /EIO; it runs on here \(running\), resumed from the copy/);
  assert.equal(f.manager.inspect(id).state, 'running');
  assert.ok(runs(back) > 0, 'the guest runs in its new thread here');
});
