// Tests of the in-process learning switch: flooding, learning, filtering, asynchronous delivery, port
// close, bounds and stats, and two virtio-net devices talking through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../core/machine/memory.js';
import { VirtioMmio } from '../core/virtio/mmio.js';
import { MockDriver } from '../core/virtio/mock-driver.js';
import { VirtioNet } from '../core/virtio/net/net.js';
import { type SwitchPort, VirtualSwitch } from './switch.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

const MAC = (n: number) => Uint8Array.of(0x52, 0x54, 0, 0, 0, n);
const BCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

function frame(dst: Uint8Array, src: Uint8Array, tag = 0, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[14] = tag;
  return f;
}

function attach(p: SwitchPort): Uint8Array[] {
  const got: Uint8Array[] = [];
  p.setReceiver((f) => got.push(f));
  return got;
}

test('unknown unicast and broadcast are flooded to every other port, never back to the sender', async () => {
  const sw = new VirtualSwitch();
  const ports = [sw.port('a'), sw.port('b'), sw.port('c')];
  const got = ports.map(attach);
  ports[0].send(frame(MAC(9), MAC(1), 1));
  ports[0].send(frame(BCAST, MAC(1), 2));
  ports[0].send(frame(Uint8Array.of(0x01, 0, 0x5e, 0, 0, 1), MAC(1), 3)); // IPv4 multicast
  await tick();
  assert.equal(got[0].length, 0);
  assert.deepEqual(got[1].map((f) => f[14]), [1, 2, 3]);
  assert.deepEqual(got[2].map((f) => f[14]), [1, 2, 3]);
});

test('learned addresses: unicast goes only to the port the destination was seen on', async () => {
  const sw = new VirtualSwitch();
  const [a, b, c] = [sw.port(), sw.port(), sw.port()];
  const [ga, gb, gc] = [a, b, c].map(attach);
  a.send(frame(BCAST, MAC(1))); // learn 1 on a
  b.send(frame(MAC(1), MAC(2), 7)); // learn 2 on b; to a only
  await tick();
  assert.equal(sw.lookup(MAC(1)), a);
  assert.equal(sw.lookup(MAC(2)), b);
  assert.deepEqual(ga.map((f) => f[14]), [7]);
  assert.equal(gb.length, 1, 'only the broadcast');
  assert.equal(gc.length, 1, 'only the broadcast');
  // a frame for an address that lives on the ingress port is filtered
  a.send(frame(MAC(1), MAC(3)));
  await tick();
  assert.equal(ga.length + gb.length + gc.length, 3);
  // the address moves when its owner shows up elsewhere (a migrated VM)
  c.send(frame(BCAST, MAC(1)));
  b.send(frame(MAC(1), MAC(2), 8));
  await tick();
  assert.equal(sw.lookup(MAC(1)), c);
  assert.deepEqual(gc.at(-1)?.[14], 8);
  // a multicast source is never learned
  a.send(frame(MAC(5), Uint8Array.of(0x01, 0, 0, 0, 0, 5)));
  assert.equal(sw.lookup(Uint8Array.of(0x01, 0, 0, 0, 0, 5)), undefined);
});

test('delivery is asynchronous and the sender may reuse its buffer at once', async () => {
  const sw = new VirtualSwitch();
  const [a, b] = [sw.port(), sw.port()];
  const gb = attach(b);
  const buf = frame(BCAST, MAC(1), 42);
  a.send(buf);
  buf.fill(0);
  assert.equal(gb.length, 0, 'nothing delivered on the sender\'s stack');
  await Promise.resolve();
  assert.equal(gb.length, 1, 'delivered by the next microtask checkpoint');
  assert.equal(gb[0][14], 42);
});

test('a receiver that answers at once does not recurse', async () => {
  const sw = new VirtualSwitch();
  const [a, b] = [sw.port(), sw.port()];
  let depth = 0;
  let maxDepth = 0;
  let hops = 0;
  const echo = (self: SwitchPort) => (f: Uint8Array) => {
    depth++;
    maxDepth = Math.max(maxDepth, depth);
    if (++hops < 100) self.send(frame(f.subarray(6, 12), f.subarray(0, 6)));
    depth--;
  };
  a.setReceiver(echo(a));
  b.setReceiver(echo(b));
  a.send(frame(MAC(2), MAC(1)));
  for (let i = 0; i < 200 && hops < 100; i++) await Promise.resolve();
  assert.equal(hops, 100);
  assert.equal(maxDepth, 1);
});

test('a closed port leaves: its addresses are forgotten, queued frames and later sends are dropped', async () => {
  const sw = new VirtualSwitch();
  const [a, b, c] = [sw.port('a'), sw.port('b'), sw.port('c')];
  const [, gb, gc] = [a, b, c].map(attach);
  b.send(frame(BCAST, MAC(2)));
  await tick();
  assert.equal(sw.lookup(MAC(2)), b);
  a.send(frame(MAC(2), MAC(1))); // queued for b
  b.close();
  await tick();
  assert.equal(gb.length, 0);
  assert.equal(b.stats.drops, 1);
  assert.equal(sw.lookup(MAC(2)), undefined);
  a.send(frame(MAC(2), MAC(1), 9)); // unknown again: flooded to the remaining port
  b.send(frame(BCAST, MAC(2)));
  await tick();
  assert.deepEqual(gc.map((f) => f[14]), [0, 9]);
  assert.equal(b.stats.drops, 2);
  assert.deepEqual(sw.stats().map((s) => s.name), ['a', 'c']);
  assert.ok(b.closed);
  b.close(); // idempotent
  sw.close();
  assert.deepEqual(sw.stats(), []);
});

test('stats count frames and bytes in and out per port; runts, giants and receiverless ports drop', async () => {
  const sw = new VirtualSwitch();
  const [a, b, c] = [sw.port(), sw.port(), sw.port()];
  attach(a);
  attach(b); // c has no receiver
  a.send(frame(BCAST, MAC(1), 0, 100));
  a.send(new Uint8Array(13));
  a.send(new Uint8Array(65551));
  b.send(frame(MAC(1), MAC(2), 0, 64));
  await tick();
  assert.deepEqual(a.stats, { framesIn: 1, bytesIn: 100, framesOut: 1, bytesOut: 64, drops: 2 });
  assert.deepEqual(b.stats, { framesIn: 1, bytesIn: 64, framesOut: 1, bytesOut: 100, drops: 0 });
  assert.deepEqual(c.stats, { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, drops: 1 });
});

test('an egress queue is bounded: a burst beyond it drops and counts; a throwing receiver loses one frame', async () => {
  const sw = new VirtualSwitch();
  const [a, b] = [sw.port(), sw.port()];
  const gb = attach(b);
  for (let i = 0; i < 1500; i++) a.send(frame(BCAST, MAC(1)));
  await tick();
  assert.equal(gb.length, 1024);
  assert.equal(b.stats.drops, 1500 - 1024);
  let n = 0;
  b.setReceiver(() => {
    if (n++ === 0) throw new Error('boom');
  });
  a.send(frame(BCAST, MAC(1)));
  a.send(frame(BCAST, MAC(1)));
  await tick();
  assert.equal(n, 2);
  assert.equal(b.stats.drops, 1500 - 1024 + 1);
});

test('the MAC table is bounded: a flood of random source addresses evicts the oldest', async () => {
  const sw = new VirtualSwitch();
  const [a, b] = [sw.port(), sw.port()];
  attach(a);
  attach(b);
  b.send(frame(BCAST, MAC(2)));
  for (let i = 0; i < 5000; i++) a.send(frame(BCAST, Uint8Array.of(0x52, 1, 0, 0, i >> 8, i & 0xff)));
  assert.equal(sw.lookup(MAC(2)), undefined, 'the oldest entry was evicted');
  assert.equal(sw.lookup(Uint8Array.of(0x52, 1, 0, 0, 4999 >> 8, 4999 & 0xff)), a);
  await tick();
});

test('two virtio-net devices exchange frames through the switch', async () => {
  const sw = new VirtualSwitch();
  const vm = (n: number) => {
    const ram = new GuestRam(0x8000_0000, 1 << 20);
    const net = new VirtioNet({ mac: MAC(n), backend: sw.port(`vm${n}`) });
    const dev = new VirtioMmio(net, ram, { set: () => {} });
    const drv = new MockDriver(dev, ram);
    drv.init();
    for (let i = 0; i < 4; i++) drv.add(0, [{ writable: 2048 }]);
    drv.kick(0);
    return { net, drv };
  };
  const a = vm(1);
  const b = vm(2);
  const f = frame(MAC(2), MAC(1), 77, 200);
  a.drv.add(1, [{ data: new Uint8Array(12) }, { data: f }]);
  a.drv.kick(1);
  assert.equal(b.drv.used(0).length, 0, 'not on the sender\'s stack');
  await tick();
  const [u] = b.drv.used(0);
  assert.equal(u.len, 12 + 200);
  assert.deepEqual(u.data.subarray(12, 212), f);
  assert.equal(b.net.stats.rxFrames, 1);
  assert.equal(a.net.stats.txFrames, 1);
});
