// The VM thread's console batching: a byte stream becomes few posts (a full batch, a flush at the slice's end,
// the timer), posted output is bounded by the manager's acks, and a flood keeps the newest output, counting
// what it dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConsoleBatcher, CONSOLE_BATCH_BYTES, CONSOLE_FLUSH_MS, CONSOLE_IN_FLIGHT_BYTES, CONSOLE_RING_BYTES,
} from './console-batch.js';

function harness() {
  const posts: { bytes: Uint8Array; dropped: number }[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const b = new ConsoleBatcher({ post: (bytes, dropped) => posts.push({ bytes, dropped }), later: (fn, ms) => timers.push({ fn, ms }) });
  return { b, posts, timers };
}

test('console batching: bytes written one by one go out as one message at the slice end', () => {
  const { b, posts, timers } = harness();
  for (const c of new TextEncoder().encode('hello, world\n')) b.writeByte(c);
  assert.equal(posts.length, 0, 'nothing per byte');
  assert.equal(timers.length, 1, 'one flush timer for the whole burst');
  assert.equal(timers[0].ms, CONSOLE_FLUSH_MS);
  b.flush();
  assert.equal(posts.length, 1);
  assert.equal(new TextDecoder().decode(posts[0].bytes), 'hello, world\n');
  assert.equal(posts[0].dropped, 0);
  timers[0].fn(); // the timer finds nothing left
  assert.equal(posts.length, 1);
});

test('console batching: a full batch goes at once; output of an idle VM goes when the timer fires', () => {
  const { b, posts, timers } = harness();
  for (let i = 0; i < CONSOLE_BATCH_BYTES; i++) b.writeByte(0x61);
  assert.equal(posts.length, 1);
  assert.equal(posts[0].bytes.length, CONSOLE_BATCH_BYTES);
  b.write(new TextEncoder().encode('$ '));
  assert.equal(posts.length, 1);
  for (const t of timers.splice(0)) t.fn();
  assert.equal(posts.length, 2);
  assert.equal(new TextDecoder().decode(posts[1].bytes), '$ ');
});

test('console batching: unacknowledged output is bounded; a flood keeps the newest bytes and counts the rest', () => {
  const { b, posts } = harness();
  const total = 4_000_000; // 4 MB written while the manager takes nothing
  const chunk = new Uint8Array(1000);
  for (let i = 0; i < total / chunk.length; i++) {
    chunk.fill(i & 0xff);
    b.write(chunk);
  }
  const posted = posts.reduce((n, p) => n + p.bytes.length, 0);
  assert.equal(posted, CONSOLE_IN_FLIGHT_BYTES, 'no more than the in-flight bound is posted without acks');
  assert.equal(b.pending, CONSOLE_RING_BYTES, 'and the newest RING bytes wait');
  assert.equal(b.droppedTotal, total - CONSOLE_IN_FLIGHT_BYTES - CONSOLE_RING_BYTES);
  b.flush();
  assert.equal(posts.reduce((n, p) => n + p.bytes.length, 0), posted, "a flush at the in-flight bound posts nothing");
  const before = posts.length;
  b.acked(posted); // the manager took it all
  assert.equal(posts.length, before + 1);
  const last = posts.at(-1)!;
  assert.equal(last.bytes.length, CONSOLE_RING_BYTES);
  assert.equal(last.dropped, b.droppedTotal, 'the post says how much was lost before it');
  assert.equal(last.bytes.at(-1), ((total / chunk.length - 1) & 0xff), 'the newest output survived');
  // a single write larger than the ring keeps its tail
  b.acked(last.bytes.length);
  const huge = new Uint8Array(CONSOLE_RING_BYTES * 2);
  huge[huge.length - 1] = 0x7a;
  b.write(huge);
  b.flush();
  assert.equal(posts.at(-1)!.bytes.at(-1), 0x7a);
});
