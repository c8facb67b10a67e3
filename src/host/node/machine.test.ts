// The machine builder: the devices a description asks for, in its order, with its settings; a failure part-way
// closes what was opened (a disk's write lock is free again).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDevices } from './machine.js';
import { DiskError, diskLockPath, openDiskImage } from './block-file.js';
import { diskName, type MachineDescription } from '../../hypervisor/machine.js';
import { baseName } from '../../hypervisor/devices.js';
import type { NetBackend } from '../../core/virtio/net/backend.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-machine-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const image = (name: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, Buffer.alloc(1 << 20));
  return p;
};
const machine = (devices: MachineDescription['devices']): MachineDescription => ({
  name: 'm', memoryBytes: 64 << 20, vcpus: 1, kernel: '/nonexistent', cmdline: '', devices,
});
const port = (): NetBackend => ({ send: () => {}, setReceiver: () => {}, close: () => {} });

test('diskName: vda … vdz, then vdaa, as Linux names virtio disks', () => {
  assert.deepEqual([0, 1, 25, 26, 27, 51, 52].map(diskName), ['vda', 'vdb', 'vdz', 'vdaa', 'vdab', 'vdaz', 'vdba']);
});

test('a disk\'s default serial comes from the last name of its path, as node:path has it', () => {
  for (const p of ['/a/b/disk.img', 'disk.img', '/a/b/', 'a//b//', '/', '', 'rel/x.qcow']) assert.equal(baseName(p), path.posix.basename(p), p);
});

test('buildDevices makes the described devices in slot order with their names, serials and limits', () => {
  const a = image('a.img'), b = image('b.img');
  const ports: number[] = [];
  const built = buildDevices(machine([
    { kind: 'block', path: a },
    { kind: 'block', path: b, readOnly: true, serial: 'disk-b', rateLimiter: { ops: { size: 10, refillTimeMs: 1000 } } },
    { kind: 'net', mac: '52:54:00:12:34:56', backend: { kind: 'switch' }, rateLimiter: { bandwidth: { size: 1000, refillTimeMs: 1000 } } },
    { kind: 'console' },
    { kind: 'rng' },
    { kind: 'balloon', targetBytes: 8 << 20 },
  ]), {
    nowMs: () => 0,
    consoleOutput: () => {},
    switchPort: (i) => { ports.push(i); return port(); },
  });
  try {
    assert.deepEqual(built.devices.map((d) => d.name), ['virtio-blk vda', 'virtio-blk vdb', 'virtio-net eth0', 'virtio-console', 'virtio-rng', 'virtio-balloon']);
    assert.equal(built.disks.length, 2);
    assert.deepEqual(built.diskLimiters.map((l) => l !== null), [false, true]);
    assert.deepEqual(built.nicLimiters.map((l) => [l.tx !== null, l.rx !== null, l.tx !== l.rx]), [[true, true, true]], 'one bucket per direction');
    assert.deepEqual(ports, [0]);
    assert.ok(built.console);
    assert.ok(built.balloon);
  } finally {
    built.close();
  }
  // closed: the write lock on a.img is free again
  openDiskImage({ path: a }).close();
});

test('a device that cannot be made closes the disks opened before it', () => {
  const a = image('c.img');
  assert.throws(() => buildDevices(machine([
    { kind: 'block', path: a },
    { kind: 'block', path: path.join(dir, 'missing.img') },
  ]), { nowMs: () => 0 }), DiskError);
  openDiskImage({ path: a }).close(); // not left locked
  assert.throws(() => buildDevices(machine([
    { kind: 'block', path: a },
    { kind: 'net', mac: '52:54:00:12:34:56', backend: { kind: 'switch' } },
  ]), { nowMs: () => 0 }), /virtio-net eth0: no switch backend/);
  openDiskImage({ path: a }).close();
});

test('deferred disks (a guest arriving by migration) are opened by openDisks once their holder lets go; a disk resized meanwhile is refused', () => {
  const a = image('d.img'), b = image('e.img');
  const held = openDiskImage({ path: a }); // the VM the guest leaves
  const built = buildDevices(machine([{ kind: 'block', path: a }, { kind: 'block', path: b }]), { nowMs: () => 0, deferDisks: true });
  try {
    assert.equal(built.disks.length, 2, 'built while another holds the image');
    assert.throws(() => built.openDisks('VM 0000000b (web)'), DiskError);
    openDiskImage({ path: b }).close(); // what openDisks opened before the failure is closed again
    held.close();
    built.openDisks('VM 0000000b (web)');
    assert.match(fs.readFileSync(diskLockPath(a), 'utf8'), /holder=VM 0000000b \(web\)/, 'locked in the VM\'s name');
    assert.throws(() => openDiskImage({ path: b }), DiskError, 'held now');
  } finally {
    built.close();
  }
  openDiskImage({ path: a }).close();
  openDiskImage({ path: b }).close();

  const c = image('f.img');
  const later = buildDevices(machine([{ kind: 'block', path: c }]), { nowMs: () => 0, deferDisks: true });
  fs.truncateSync(c, 2 << 20);
  assert.throws(() => later.openDisks(), (e: unknown) => e instanceof DiskError && /is 2097152 bytes now, not the 1048576 bytes it had/.test(e.message));
  later.close();
  openDiskImage({ path: c }).close(); // not left locked
  assert.throws(() => buildDevices(machine([{ kind: 'block', path: path.join(dir, 'gone.img') }]), { nowMs: () => 0, deferDisks: true }), /virtio-blk vda: cannot read/);
});

test('a user-mode NIC takes the socket the host opened for it, or, where the host has none (a browser tab), joins the switch', () => {
  const user = machine([{ kind: 'net', mac: '52:54:00:12:34:57', backend: { kind: 'user', forwards: [] } }]);
  assert.throws(() => buildDevices(user, { nowMs: () => 0, switchPort: () => port() }), /virtio-net eth0: no user backend for it here/);
  const ports: number[] = [];
  const built = buildDevices(user, { nowMs: () => 0, userNet: 'switch', switchPort: (i) => { ports.push(i); return port(); } });
  assert.deepEqual(built.devices.map((d) => d.name), ['virtio-net eth0']);
  assert.deepEqual(ports, [0]);
  const opened = port();
  const viaSocket = buildDevices(user, { nowMs: () => 0, sockets: new Map([[0, opened]]), switchPort: () => assert.fail('not the switch') });
  assert.equal(viaSocket.nics.length, 1);
});
