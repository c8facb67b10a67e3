// A deferred disk (a guest arriving by live migration): known size, no access until attached, then the real disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockIoError, DeferredBlockBackend, MemoryBlockBackend } from './backend.js';

test('a deferred disk refuses every access until the real disk of its size is attached, then passes them through', () => {
  const d = new DeferredBlockBackend(4096, false, 'virtio-blk vda');
  assert.throws(() => d.read(0, new Uint8Array(512)), (e: unknown) => e instanceof BlockIoError && /vda: not attached yet/.test(e.message));
  assert.throws(() => d.write(0, new Uint8Array(512)), BlockIoError);
  assert.throws(() => d.attach(new MemoryBlockBackend(new Uint8Array(8192))), /is 8192 bytes now, not the 4096 bytes it had/);
  assert.throws(() => d.attach(new MemoryBlockBackend(new Uint8Array(4096), true)), /read-only now/);
  const real = new MemoryBlockBackend(new Uint8Array(4096));
  d.attach(real);
  d.write(512, new Uint8Array(512).fill(7));
  assert.equal(real.data[512], 7);
  const back = new Uint8Array(512);
  d.read(512, back);
  assert.equal(back[511], 7);
  d.close();
  assert.throws(() => d.read(0, back), BlockIoError, 'closed: detached');
});
