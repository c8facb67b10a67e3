// The VM generation ID device: the guest reads its 16 bytes with loads of any width (Linux copies them with
// memcpy), a new generation changes them and latches one interrupt in the PLIC (an edge: the line does not stay
// up, so no interrupt storm), a reset keeps the identifier, and save/restore carries it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmGenId } from './vmgenid.js';
import { SnapshotError } from '../snapshot/state.js';

function counter() {
  let n = 0;
  return (len: number) => Uint8Array.from({ length: len }, () => (n++ * 37 + 11) & 0xff);
}

test('the identifier reads back with every width, the rest of the page reads zero, writes are ignored', () => {
  const d = new VmGenId(counter());
  const id = d.identifier;
  assert.equal(id.length, 16);
  for (let i = 0; i < 16; i++) assert.equal(d.read(i, 1), id[i]);
  const v = new DataView(id.buffer);
  for (let i = 0; i < 16; i += 2) assert.equal(d.read(i, 2), v.getUint16(i, true));
  for (let i = 0; i < 16; i += 4) assert.equal(d.read(i, 4), v.getUint32(i, true));
  for (let i = 0; i < 16; i += 8) assert.equal(d.read(i, 8), v.getBigUint64(i, true));
  assert.equal(d.read(12, 8), BigInt(v.getUint32(12, true)), 'bytes past the identifier read zero');
  assert.equal(d.read(0x800, 4), 0);
  d.write();
  d.reset();
  assert.deepEqual(d.identifier, id, 'kept across writes and resets');
});

test('a new generation: a new identifier and one interrupt edge; save and restore carry the identifier', () => {
  const levels: boolean[] = [];
  const d = new VmGenId(counter(), { set: (l) => levels.push(l) });
  const before = d.identifier;
  const saved = d.save();
  d.newGeneration();
  assert.notDeepEqual(d.identifier, before);
  assert.deepEqual(levels, [true, false]);
  d.restore(saved);
  assert.deepEqual(d.identifier, before);
  assert.throws(() => d.restore({ version: 1, id: 'xyz' }), (e: unknown) => e instanceof SnapshotError && /vmgenid\.id must be 32 hex digits/.test(e.message));
  assert.throws(() => d.restore({ version: 2, id: saved.id }), /this tvisor reads version 1/);
});
