// Snapshots in the tab, without a browser: the worker reads a snapshot a page wrote (fake synchronous access
// handle), refuses one whose boot files differ from the page's (size or CRC-32) or that a daemon wrote, and
// refuses to save a VM with disks; paths must name OPFS files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSnapshot } from '../../core/snapshot/file.js';
import { GuestRam } from '../../core/machine/memory.js';
import type { MachineDescription } from '../../hypervisor/machine.js';
import type { Vm } from '../../core/machine/vm.js';
import { FileDigests, opfsName, TabSnapshotRefused, WorkerSnapshots, type TabSnapshotMeta } from './snapshots.js';
import type { SyncHandle } from './disks.js';

const machine: MachineDescription = { name: 'web', memoryBytes: 64 * 1024, vcpus: 1, kernel: '/images/default/Image', cmdline: 'console=ttyS0', devices: [] };
const kernel = new TextEncoder().encode('a kernel');

function handleOf(bytes: Uint8Array): SyncHandle {
  return {
    read: (b, { at }) => {
      b.set(bytes.subarray(at, at + b.length));
      return Math.min(b.length, bytes.length - at);
    },
    write: () => 0, getSize: () => bytes.length, truncate: () => {}, flush: () => {}, close: () => {},
  };
}

function saved(meta: unknown): Uint8Array {
  const ram = new GuestRam(0x8000_0000, 64 * 1024);
  ram.write(0x8000_2000, new Uint8Array([7, 7, 7]));
  return encodeSnapshot(meta, ram);
}

test('a snapshot the page wrote is read back; another page\'s files or a daemon\'s snapshot are refused', () => {
  const digests = new FileDigests(new Map([['/images/default/Image', kernel]]));
  const meta: TabSnapshotMeta = { tab: 1, machine, files: [digests.record('/images/default/Image')], state: { hart: 1 }, console: btoa('/ # ') };
  const ok = new WorkerSnapshots(digests, () => handleOf(saved(meta))).read('/opfs/web.snap', machine);
  assert.deepEqual(ok.state, { hart: 1 });
  assert.deepEqual(ok.contents.pages.map((p) => p.index), [2]);
  assert.equal(new TextDecoder().decode(ok.console), '/ # ');
  // the page now serves another kernel of the same size
  const other = new FileDigests(new Map([['/images/default/Image', new TextEncoder().encode('A kernel')]]));
  assert.throws(() => new WorkerSnapshots(other, () => handleOf(saved(meta))).read('/opfs/web.snap', machine), /is not the file it was saved with/);
  const none = new FileDigests(new Map());
  assert.throws(() => new WorkerSnapshots(none, () => handleOf(saved(meta))).read('/opfs/web.snap', machine), /which this page does not have/);
  const daemons = { machine, files: [{ path: '/images/default/Image', dev: 1, ino: 2 }], state: {} };
  assert.throws(() => new WorkerSnapshots(digests, () => handleOf(saved(daemons))).read('/opfs/web.snap', machine), /not a snapshot this page wrote/);
  assert.throws(() => new WorkerSnapshots(digests, () => handleOf(new Uint8Array(10))).read('/opfs/web.snap', machine), /tvisor snapshot/);
});

test('a VM with disks is not saved in a tab; a path must name an OPFS file', () => {
  const digests = new FileDigests(new Map([['/images/default/Image', kernel]]));
  const s = new WorkerSnapshots(digests, () => handleOf(new Uint8Array(0)));
  const withDisk = { ...machine, devices: [{ kind: 'block' as const, path: '/images/default/disk.img' }] };
  const request = { machine: withDisk, flushDisks: () => {}, keepOverlays: true, console: new Uint8Array(0), settings: { weight: 256, cap: 0 } };
  assert.throws(() => s.write('/opfs/web.snap', {} as Vm, request), (e: unknown) => e instanceof TabSnapshotRefused && /with disks/.test((e as Error).message));
  assert.equal(s.refused(new TabSnapshotRefused('x')), true);
  assert.equal(opfsName('/opfs/web.snap'), 'web.snap');
  for (const bad of ['/tmp/web.snap', '/opfs/', '/opfs/a/b', '/opfs/../x']) assert.throws(() => opfsName(bad), /browser's storage/);
});
