// Snapshot files on real temporary files: overlay copies (as sparse as the original, never replacing a file
// unless asked), the record read without the RAM, what the daemon's snapshot source checks (a file changed
// since, a copy that moved on, a target that exists) and the clones it makes; and what writeSnapshot refuses
// to replace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copyOverlay, openDiskImage } from './block-file.js';
import { openSnapshotSource, readSnapshot, readSnapshotMeta, savedDiskPath, type SnapshotMeta } from './snapshot-file.js';
import { fileIdentity } from './file-identity.js';
import { encodeSnapshot } from '../../core/snapshot/file.js';
import { GuestRam } from '../../core/machine/memory.js';
import { ApiError } from '../../hypervisor/errors.js';
import type { MachineDescription } from '../../hypervisor/machine.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-snapshot-file-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (name: string) => path.join(dir, `${n++}-${name}`);

/** A 1 MiB base image and an overlay over it holding two written blocks (one at 512 KiB). */
function overlayWithWrites(): { base: string; overlay: string } {
  const base = file('base.img');
  fs.writeFileSync(base, new Uint8Array(1 << 20).fill(7));
  const overlay = file('ovl');
  const d = openDiskImage({ path: base, overlay });
  d.write(4096, new Uint8Array(4096).fill(1));
  d.write(512 * 1024, new Uint8Array(4096).fill(2));
  d.close();
  return { base, overlay };
}

function readDisk(base: string, overlay: string): Uint8Array {
  const d = openDiskImage({ path: base, overlay });
  const out = new Uint8Array(d.size);
  d.read(0, out);
  d.close();
  return out;
}

test('copyOverlay: the copy reads as the original, holds only the written blocks, and never replaces a file unless asked', () => {
  const { base, overlay } = overlayWithWrites();
  const copy = file('copy');
  assert.equal(copyOverlay(overlay, copy), 8192, 'two blocks of data copied');
  assert.deepEqual(readDisk(base, copy), readDisk(base, overlay));
  assert.equal(fs.statSync(copy).size, fs.statSync(overlay).size);
  assert.ok(fs.statSync(copy).blocks * 512 < 64 * 1024, `sparse: ${fs.statSync(copy).blocks} blocks allocated`);
  fs.writeFileSync(file('x'), 'mine');
  assert.throws(() => copyOverlay(overlay, copy), /cannot create .*EEXIST/);
  const other = overlayWithWrites();
  copyOverlay(other.overlay, copy, { replace: true });
  assert.throws(() => copyOverlay(base, file('y')), /not a tvisor overlay/, 'a raw image is no overlay');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
});

/** A snapshot file of a machine with `kernel` and one disk (overlay saved beside it), and a 64 KiB RAM with one page written. */
function snapshotFile(): { snap: string; kernel: string; base: string; machine: MachineDescription } {
  const kernel = file('Image');
  fs.writeFileSync(kernel, 'kernel');
  const { base, overlay } = overlayWithWrites();
  const snap = file('web.snap');
  const saved = savedDiskPath(snap, 'vda');
  copyOverlay(overlay, saved);
  const machine: MachineDescription = {
    name: 'web', memoryBytes: 64 << 20, vcpus: 1, kernel, cmdline: 'console=ttyS0',
    devices: [{ kind: 'block', path: base, overlay }, { kind: 'rng' }],
  };
  const meta: SnapshotMeta = {
    machine, files: [fileIdentity(kernel), fileIdentity(base), fileIdentity(overlay)], state: { version: 1 },
    savedDisks: [{ disk: 'vda', file: path.basename(saved), identity: fileIdentity(saved) }], settings: { weight: 300, cap: 0 },
  };
  const ram = new GuestRam(0x8000_0000, 64 * 1024);
  ram.write(0x8000_1000, new Uint8Array([1, 2, 3]));
  fs.writeFileSync(snap, encodeSnapshot(meta, ram));
  // the VM ran on: its own overlay moved on (the copy stands for it)
  const d = openDiskImage({ path: base, overlay });
  d.write(0, new Uint8Array(4096).fill(9));
  d.close();
  return { snap, kernel, base, machine };
}

const apiError = (code: string, message: RegExp) => (e: unknown) => e instanceof ApiError && e.code === code && message.test(e.message);

test('the record is read without the RAM; the whole file with it', () => {
  const { snap, machine } = snapshotFile();
  assert.deepEqual(readSnapshotMeta(snap).machine, machine);
  const { contents } = readSnapshot(snap);
  assert.deepEqual(contents.pages.map((p) => p.index), [1]);
  const cut = file('cut.snap');
  fs.writeFileSync(cut, fs.readFileSync(snap).subarray(0, 100));
  assert.throws(() => readSnapshot(cut), /truncated|ends inside/);
  assert.throws(() => readSnapshotMeta(file('missing')), /cannot read it \(no such file/);
});

test('the snapshot source: clones get overlays copied from the saved one; changed files and existing targets are refused', () => {
  const { snap, kernel, base } = snapshotFile();
  const src = openSnapshotSource(snap);
  assert.deepEqual(src.savedDisks, ['vda']);
  assert.deepEqual(src.settings, { weight: 300, cap: 0 });
  const a = path.join(dir, 'a.overlay');
  const { machine, made } = src.clone('a', { vda: a });
  assert.deepEqual(made, [a]);
  assert.equal(machine.name, 'a');
  assert.deepEqual(machine.devices[0], { kind: 'block', path: base, overlay: a });
  const disk = readDisk(base, a);
  assert.equal(disk[0], 7, 'as saved: the write after the snapshot is not in the clone');
  assert.equal(disk[4096], 1);
  assert.throws(() => src.clone('b', { vda: a }), apiError('conflict', /a\.overlay exists already; tvisor never replaces a file/));
  src.discard(made);
  assert.ok(!fs.existsSync(a));

  fs.appendFileSync(savedDiskPath(snap, 'vda'), 'x');
  assert.throws(() => openSnapshotSource(snap).clone('c', { vda: file('c') }), apiError('bad_snapshot', /is not the one taken with it: its size changed/));
  fs.writeFileSync(kernel, 'rebuilt');
  assert.throws(() => openSnapshotSource(snap), apiError('bad_snapshot', /the kernel .* is not the file the VM was saved with/));
  assert.throws(() => openSnapshotSource(kernel), apiError('bad_snapshot', /does not start as a tvisor snapshot does/));
});
