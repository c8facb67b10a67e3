// A console client's bounded queue: output coalesced into few frames, paced by the transport's completions,
// bounded in bytes and messages (a stalled client skips output and is told how much), and a client stuck
// for good dropped; events keep their place in the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConsoleClientQueue, CONSOLE_CLIENT_FRAME_BYTES, CONSOLE_CLIENT_IN_FLIGHT, CONSOLE_CLIENT_QUEUE_BYTES,
  CONSOLE_CLIENT_QUEUE_MESSAGES, CONSOLE_CLIENT_STUCK_MS,
} from './console-client.js';

function socket() {
  const s = {
    now: 0,
    sent: [] as (Uint8Array | string)[],
    pending: [] as ((err?: Error) => void)[],
    dropped: null as string | null,
    buffered: 0,
    /** The peer reads: every pending write completes (and may make room for more). */
    drain() {
      while (s.pending.length > 0) s.pending.shift()!();
    },
  };
  const q = new ConsoleClientQueue({
    send: (data, done) => {
      s.sent.push(data);
      s.pending.push(done);
    },
    buffered: () => s.buffered,
    drop: (reason) => (s.dropped = reason),
    nowMs: () => s.now,
  });
  return { s, q };
}

const bytesOf = (frames: (Uint8Array | string)[]) => frames.reduce((n, f) => n + (typeof f === 'string' ? 0 : f.length), 0);

test('console client: a trickle of small chunks becomes few frames, at most IN_FLIGHT unwritten', () => {
  const { s, q } = socket();
  for (let i = 0; i < 10_000; i++) q.data(Uint8Array.of(0x61 + (i % 26)));
  assert.equal(s.sent.length, CONSOLE_CLIENT_IN_FLIGHT, 'the first bytes go at once, then the socket is waited on');
  s.drain();
  s.drain();
  s.drain();
  assert.equal(bytesOf(s.sent), 10_000, 'everything arrives');
  assert.ok(s.sent.length < 20, `${s.sent.length} frames for 10,000 one-byte chunks`);
  const text = s.sent.map((f) => Buffer.from(f as Uint8Array).toString('latin1')).join('');
  assert.equal(text.slice(0, 30), 'abcdefghijklmnopqrstuvwxyzabcd', 'in order');
  assert.ok(s.sent.every((f) => typeof f === 'string' || f.length <= CONSOLE_CLIENT_FRAME_BYTES));
});

test('console client: a client that does not read skips output beyond its bound and is told how much', () => {
  const { s, q } = socket();
  const chunk = new Uint8Array(16 * 1024).fill(0x62);
  for (let i = 0; i < 100; i++) q.data(chunk); // 1.6 MiB to a stalled socket
  const inFlight = bytesOf(s.sent);
  assert.equal(s.sent.length, CONSOLE_CLIENT_IN_FLIGHT);
  assert.ok(q.pendingBytes <= CONSOLE_CLIENT_QUEUE_BYTES, `${q.pendingBytes} bytes queued`);
  assert.equal(q.stats.skippedBytes, 100 * chunk.length - inFlight - q.pendingBytes);
  q.state('paused');
  s.drain(); // the client reads again
  s.drain();
  s.drain();
  s.drain();
  q.data(Uint8Array.of(0x63));
  s.drain();
  const events = s.sent.filter((f): f is string => typeof f === 'string').map((e) => JSON.parse(e));
  assert.deepEqual(events, [{ event: 'skipped', bytes: q.stats.skippedBytes }, { event: 'state', state: 'paused' }]);
  const skippedAt = s.sent.findIndex((f) => typeof f === 'string');
  assert.equal(bytesOf(s.sent.slice(0, skippedAt)), inFlight + CONSOLE_CLIENT_QUEUE_BYTES, 'the skip is reported where it happened');
  assert.deepEqual(s.sent.at(-1), Uint8Array.of(0x63), 'new output follows');
  assert.equal(s.dropped, null);
});

test('console client: messages are bounded too, and a client stuck for good is dropped', () => {
  const { s, q } = socket();
  s.buffered = 10 << 20; // the socket already holds plenty (ws.bufferedAmount): nothing more is handed to it
  for (let i = 0; i < 1000; i++) q.data(new Uint8Array(3000)); // too big to merge: a message each, until the byte bound
  assert.equal(s.sent.length, 0);
  assert.ok(q.pendingBytes <= CONSOLE_CLIENT_QUEUE_BYTES);
  assert.ok(q.stats.skippedBytes > 0);
  s.buffered = 0;
  q.data(new Uint8Array(10));
  assert.equal(s.sent.length, CONSOLE_CLIENT_IN_FLIGHT, 'the socket takes frames again');
  s.now += CONSOLE_CLIENT_STUCK_MS + 1; // …and then completes none for 30 s
  q.data(new Uint8Array(CONSOLE_CLIENT_QUEUE_BYTES));
  assert.match(s.dropped ?? '', /took nothing for 30 s/);
  const n = s.sent.length;
  q.data(Uint8Array.of(1));
  assert.equal(s.sent.length, n, 'a dropped client gets nothing more');
});

test('console client: a flood of events (a guest rebooting in a loop) to a stalled client drops it', () => {
  const { s, q } = socket();
  s.buffered = 10 << 20;
  for (let i = 0; i < CONSOLE_CLIENT_QUEUE_MESSAGES; i++) q.state(i % 2 ? 'running' : 'stopped');
  assert.equal(s.dropped, null);
  q.state('running');
  assert.match(s.dropped ?? '', /queue is full/);
});
