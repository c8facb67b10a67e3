// A whole machine saved to a snapshot file and brought back in another Vm: a guest counting in memory goes on
// counting from where it was, and a damaged, truncated or foreign file is refused before anything is restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../machine/vm.js';
import { tinyImage } from '../machine/test-images.js';
import { VirtioRng } from '../virtio/rng/rng.js';
import { crc32, decodeSnapshot, encodeSnapshot, restoreRam, SNAPSHOT_FORMAT } from './file.js';
import { SnapshotError } from './state.js';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** S-mode kernel: t0 = its address + 0x400; for (;;) (*t0)++ */
const COUNTER = tinyImage([0x00000297, 0x40028293, 0x0002b303, 0x00130313, 0x0062b023, 0xff5ff06f]);

function vm(): Vm {
  return new Vm({
    memory: 16 << 20, cpus: 1, kernel: COUNTER, cmdline: '', console: () => {}, random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    devices: [new VirtioRng((n) => new Uint8Array(n))], jit: 'off',
  });
}

/** The guest's counter: 8 bytes at the kernel's load address (RAM + 2 MiB) + 0x40 (the code) + 0x400. */
const counter = (m: Vm) => new DataView(m.ram.u8.buffer).getBigUint64(0x200000 + 0x40 + 0x400, true);

test('a counting guest saved to a snapshot goes on counting, from the same count, in another Vm', () => {
  const a = vm();
  for (let i = 0; i < 5; i++) a.runSlice(2e6);
  const count = counter(a);
  assert.ok(count > 1000n, `the guest counted (${count})`);
  const file = encodeSnapshot({ state: a.saveState() }, a.ram);
  assert.ok(file.length < 64 * 1024, `sparse: ${file.length} bytes for 16 MiB of RAM`);

  const c = decodeSnapshot(file);
  const b = vm();
  restoreRam(b.ram, c);
  b.restoreState((c.meta as { state: unknown }).state);
  assert.equal(counter(b), count);
  // a new generation: a new VM generation ID, and its interrupt pending (PLIC source 40: word 1, bit 8)
  const sb = b.saveState();
  assert.notEqual(sb.vmgenid.id, a.saveState().vmgenid.id);
  assert.equal(sb.plic.pending[1] & 0x100, 0x100);
  // everything else as saved, but mtime: it goes on with the host clock, which moved between the two saves
  const comparable = (m: Vm) => {
    const st = m.saveState();
    return { ...st, clint: { ...st.clint, mtime: '' }, vmgenid: null, plic: { ...st.plic, pending: st.plic.pending.map((w, i) => (i === 1 ? w & ~0x100 : w)) } };
  };
  assert.deepEqual(JSON.parse(JSON.stringify(comparable(b))), JSON.parse(JSON.stringify(comparable(a))));
  const retired = b.harts[0].retired;
  b.runSlice(2e6);
  assert.ok(counter(b) > count, 'it goes on counting');
  assert.ok(b.harts[0].retired > retired, 'instret goes on from the saved count');
});

test('a snapshot file that is foreign, of another format, truncated, corrupt or padded is refused', () => {
  const a = vm();
  a.runSlice(1e6);
  const file = encodeSnapshot({ state: a.saveState() }, a.ram);
  const refused = (bytes: Uint8Array, why: RegExp) =>
    assert.throws(() => decodeSnapshot(bytes), (e: unknown) => e instanceof SnapshotError && why.test(e.message), String(why));
  refused(new TextEncoder().encode('#!/bin/sh\necho not a snapshot\n'), /does not start as a tvisor snapshot does/);
  const other = file.slice();
  new DataView(other.buffer).setUint32(8, SNAPSHOT_FORMAT + 1, true);
  refused(other, new RegExp(`of format ${SNAPSHOT_FORMAT + 1}; this tvisor reads formats 1 and ${SNAPSHOT_FORMAT}`));
  refused(file.subarray(0, file.length - 100), /truncated/);
  const flipped = file.slice();
  flipped[flipped.length - 2000] ^= 0x10; // a bit of RAM
  refused(flipped, /checksum does not match/);
  refused(Uint8Array.from([...file, 0]), /1 bytes follow its end/);
  // a state record that does not fit the machine is refused by name
  const b = vm();
  const state = a.saveState();
  assert.throws(() => b.restoreState({ ...state, harts: [] }), /vm\.harts must be an array of 1 records/);
  assert.throws(() => b.restoreState({ ...state, sbi: null }), /saved under M-mode firmware, restored with tvisor's SBI/);
});

const deflate = (b: Uint8Array) => new Uint8Array(deflateRawSync(b, { level: 1 }));
const inflate = (b: Uint8Array, n: number) => new Uint8Array(inflateRawSync(b, { maxOutputLength: n }));

test('a snapshot with its RAM compressed reads back the same; without an inflater, or damaged, it is refused', () => {
  const a = vm();
  for (let i = 0; i < 3; i++) a.runSlice(1e6);
  const plain = encodeSnapshot({ state: a.saveState() }, a.ram);
  const packed = encodeSnapshot({ state: a.saveState() }, a.ram, deflate);
  assert.ok(packed.length < plain.length / 2, `smaller: ${packed.length} bytes, ${plain.length} stored`);
  const p = decodeSnapshot(plain);
  const c = decodeSnapshot(packed, inflate);
  assert.deepEqual(c.pages.map((x) => x.index), p.pages.map((x) => x.index));
  assert.ok(c.pages.every((x, i) => Buffer.compare(x.data, p.pages[i].data) === 0), 'the same page contents');
  const b = vm();
  restoreRam(b.ram, c);
  b.restoreState((c.meta as { state: unknown }).state);
  assert.equal(counter(b), counter(a));
  const refused = (bytes: Uint8Array, why: RegExp, inf: typeof inflate | null = inflate) =>
    assert.throws(() => decodeSnapshot(bytes, inf ?? undefined), (e: unknown) => e instanceof SnapshotError && why.test(e.message), String(why));
  refused(packed, /its RAM is compressed, and this host cannot inflate it/, null);
  // a stream that inflates to more than its pages (a bomb), or to less: refused, with the checksum made right
  const lie = (pages: number) => {
    const f = packed.slice();
    const metaLength = new DataView(f.buffer).getUint32(12, true);
    new DataView(f.buffer).setUint32(16 + metaLength + 4, pages, true);
    new DataView(f.buffer).setUint32(f.length - 4, crc32(f.subarray(0, f.length - 4)), true);
    return f;
  };
  const count = c.pages.length;
  refused(lie(count - 1), /does not inflate|inflates to/);
  refused(lie(count + 1), /inflates to \d+ bytes, not the \d+ of its \d+ pages/);
  // a file of format 1 (stored RAM, no encoding field) is still read
  const metaLength = new DataView(plain.buffer).getUint32(12, true);
  const ramHead = 16 + metaLength;
  const v1 = new Uint8Array(plain.length - 4);
  v1.set(plain.subarray(0, ramHead + 8));
  v1.set(plain.subarray(ramHead + 12, plain.length - 4), ramHead + 8);
  new DataView(v1.buffer).setUint32(8, 1, true);
  new DataView(v1.buffer).setUint32(v1.length - 4, crc32(v1.subarray(0, v1.length - 4)), true);
  assert.deepEqual(decodeSnapshot(v1).pages.map((x) => x.index), p.pages.map((x) => x.index));
});
