// The in-tab disks' copy-on-write overlay: reads and writes of any alignment against a model, the base never
// written, write-zeroes, the last short block of a disk; and the OPFS store's map surviving a close and a
// reopen (over fake synchronous access handles), refusing a map made for another disk or not a map at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryBlockBackend } from '../../core/virtio/blk/backend.js';
import { MemoryOverlayStore, OpfsOverlayStore, OverlayDisk, type SyncHandle } from './disks.js';

/** An OPFS file in memory, as its synchronous access handle sees it. */
function fakeHandle(file: { bytes: Uint8Array }): SyncHandle {
  return {
    read: (buffer, { at }) => {
      const n = Math.max(0, Math.min(buffer.length, file.bytes.length - at));
      buffer.set(file.bytes.subarray(at, at + n));
      buffer.fill(0, n);
      return buffer.length;
    },
    write: (buffer, { at }) => {
      if (at + buffer.length > file.bytes.length) {
        const grown = new Uint8Array(at + buffer.length);
        grown.set(file.bytes);
        file.bytes = grown;
      }
      file.bytes.set(buffer, at);
      return buffer.length;
    },
    getSize: () => file.bytes.length,
    truncate: (size) => (file.bytes = file.bytes.slice(0, size)),
    flush: () => {},
    close: () => {},
  };
}

const SIZE = 5 * 4096 + 1024; // a last block shorter than the others

test('reads and writes of any alignment match a plain disk; the base is never written', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ write: fc.boolean(), zero: fc.boolean(), at: fc.nat(SIZE - 1), len: fc.integer({ min: 1, max: 9000 }), seed: fc.nat(255) }), { maxLength: 30 }),
    (ops) => {
      const baseBytes = Uint8Array.from({ length: SIZE }, (_, i) => (i * 7) & 0xff);
      const before = baseBytes.slice();
      const model = baseBytes.slice();
      const disk = new OverlayDisk(new MemoryBlockBackend(baseBytes, true), new MemoryOverlayStore(SIZE));
      for (const op of ops) {
        const len = Math.min(op.len, SIZE - op.at);
        if (op.write && op.zero) {
          disk.writeZeroes(op.at, len);
          model.fill(0, op.at, op.at + len);
        } else if (op.write) {
          const data = Uint8Array.from({ length: len }, (_, i) => (op.seed + i) & 0xff);
          disk.write(op.at, data);
          model.set(data, op.at);
        } else {
          const got = new Uint8Array(len);
          disk.read(op.at, got);
          assert.deepEqual(got, model.subarray(op.at, op.at + len));
        }
      }
      const all = new Uint8Array(SIZE);
      disk.read(0, all);
      assert.deepEqual(all, model);
      assert.deepEqual(baseBytes, before);
    },
  ), { numRuns: 200 });
  const disk = new OverlayDisk(new MemoryBlockBackend(new Uint8Array(SIZE), true), new MemoryOverlayStore(SIZE));
  assert.throws(() => disk.read(SIZE - 10, new Uint8Array(11)), /past the end/);
  assert.throws(() => disk.write(-1, new Uint8Array(1)), /past the end/);
});

test('an OPFS overlay keeps its blocks and map across a close and a reopen; a wrong map is refused', () => {
  const data = { bytes: new Uint8Array(0) };
  const map = { bytes: new Uint8Array(0) };
  const base = () => new MemoryBlockBackend(new Uint8Array(SIZE), true);
  const first = new OverlayDisk(base(), new OpfsOverlayStore(fakeHandle(data), fakeHandle(map), SIZE, 'vda'));
  first.write(4096 + 100, new TextEncoder().encode('kept across pages'));
  first.close();
  const second = new OverlayDisk(base(), new OpfsOverlayStore(fakeHandle(data), fakeHandle(map), SIZE, 'vda'));
  const got = new Uint8Array(17);
  second.read(4096 + 100, got);
  assert.equal(new TextDecoder().decode(got), 'kept across pages');
  const zero = new Uint8Array(4096);
  second.read(0, zero);
  assert.ok(zero.every((b) => b === 0), 'blocks never written read as the base');
  assert.throws(() => new OpfsOverlayStore(fakeHandle(data), fakeHandle(map), SIZE + 512, 'vda'), /made for a disk of 21504 bytes, this one has 22016/);
  const junk = { bytes: new TextEncoder().encode('not a map at all, really not') };
  assert.throws(() => new OpfsOverlayStore(fakeHandle(data), fakeHandle(junk), SIZE, 'vda'), /not a tvisor overlay map/);
});
