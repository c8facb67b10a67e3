// Tests of the VM manager's disk registry with fake VM threads: a second writer of one image (by identity, not
// path) is refused at start naming the holder, the disk stays held until the holder's thread has closed it,
// a restart of one VM waits for its previous thread, and locks a dead thread left are released for its VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeManager } from './test-manager.js';
import { ApiError } from './errors.js';
import type { VmSpec } from './model.js';

/** Files that exist now, for fileIdentity: a missing one is known by its path only (as serve.ts does). */
const existing = new Set(['/srv/shared.img', '/srv/alias.img', '/srv/base.img']);

function setup() {
  const released: { owner: string; paths: string[] }[] = [];
  const { manager, threads } = fakeManager({
    allowedDirs: ['/srv'],
    // /srv/alias.img is the same file as /srv/shared.img (as a path through a symlinked directory would be)
    fileIdentity: (p) => (!existing.has(p) ? `path:${p}` : p === '/srv/alias.img' ? 'id:/srv/shared.img' : `id:${p}`),
    releaseDiskLocks: (owner, paths) => released.push({ owner, paths }),
  });
  return { manager, threads, released };
}

const spec = (name: string, disks: VmSpec['disks']): VmSpec => ({ name, vcpus: 1, memory_mib: 64, kernel: '/srv/k', weight: 256, cap: 0, disks, nics: [] });

function inUse(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e) => e instanceof ApiError && e.status === 409 && message.test(e.message));
}

test('a second writer of one image is refused at start, naming the VM that holds it', () => {
  const { manager, threads } = setup();
  const a = manager.create(spec('a', [{ path: '/srv/shared.img', readonly: false }])).id;
  const b = manager.create(spec('b', [{ path: '/srv/alias.img', readonly: false }])).id;
  const c = manager.create(spec('c', [{ path: '/srv/shared.img', readonly: false, overlay: '/srv/c.ovl' }])).id;
  const r = manager.create(spec('r', [{ path: '/srv/shared.img', readonly: true }])).id;
  manager.start(a);
  const init = threads[0].sent[0];
  assert.ok(init.t === 'init');
  assert.deepEqual(init.config.allowedDirs, ['/srv'], 'the VM thread confines its files too');
  const disk = init.config.machine.devices[0];
  assert.equal(disk.kind === 'block' && disk.owner, 'VM 00000001 (a)', 'the lock names the VM');
  inUse(() => manager.start(b), /^disks\[0\]\.path "\/srv\/alias\.img" is in use by VM 00000001 \(a\) \(as "\/srv\/shared\.img": the same file\)/);
  inUse(() => manager.start(c), /^disks\[0\]\.path "\/srv\/shared\.img" is in use by VM 00000001 \(a\)/);
  assert.equal(manager.inspect(b).state, 'created');
  assert.equal(threads.length, 1, 'no thread was spawned for the refused starts');
  manager.start(r); // a read-only user is no second writer
});

test('the image stays held until the holder\'s thread has closed it; a restart of one VM waits for its old thread', () => {
  const { manager, threads, released } = setup();
  const a = manager.create(spec('a', [{ path: '/srv/shared.img', readonly: false }])).id;
  const b = manager.create(spec('b', [{ path: '/srv/shared.img', readonly: false }])).id;
  manager.start(a);
  manager.stop(a);
  inUse(() => manager.start(b), /in use by VM 00000001 \(a\)/);
  // a starts again at once: its new thread gets 'init' only once the old one has closed its disks
  manager.start(a);
  assert.equal(threads.length, 2);
  assert.equal(threads[1].sent.length, 0, 'init waits for the previous thread');
  threads[0].emit({ t: 'stopped' });
  assert.equal(threads[1].sent[0]?.t, 'init');
  assert.deepEqual(released, [{ owner: 'VM 00000001 (a)', paths: ['/srv/shared.img'] }], 'leftover locks of the ended thread are released');
  inUse(() => manager.start(b), /in use by VM 00000001 \(a\)/);
  manager.stop(a);
  threads[1].emit({ t: 'stopped' });
  manager.start(b);
  assert.equal(manager.inspect(b).state, 'running');
});

test('an overlay that one VM is about to create is the same file for the next VM naming it', () => {
  const { manager } = setup();
  const a = manager.create(spec('a', [{ path: '/srv/base.img', readonly: false, overlay: '/srv/new.ovl' }])).id;
  const b = manager.create(spec('b', [{ path: '/srv/base.img', readonly: false, overlay: '/srv/new.ovl' }])).id;
  manager.start(a);
  existing.add('/srv/new.ovl'); // a's thread created it: it has an identity now
  inUse(() => manager.start(b), /^disks\[0\]\.overlay "\/srv\/new\.ovl" is in use by VM 00000001 \(a\)/);
});
