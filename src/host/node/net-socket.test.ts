// Tests of the socket network backends over real TCP on 127.0.0.1 (framing, chunking, peers coming and
// going, corrupt streams, connection errors) and of the --net option parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { NetError, connectSocketBackend, listenSocketBackend, parseNetSpec } from './net-socket.js';

const HOST = '127.0.0.1';

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function frameOf(len: number, seed: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return f;
}

function collect(b: { setReceiver(fn: (f: Uint8Array) => void): void }): Uint8Array[] {
  const got: Uint8Array[] = [];
  b.setReceiver((f) => got.push(f.slice()));
  return got;
}

/** Length-prefixed encoding, written independently of the module under test. */
function encode(frames: Uint8Array[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(f.length);
    return [p, Buffer.from(f)];
  }));
}

function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port }, () => resolve(s));
    s.once('error', reject);
  });
}

async function pair() {
  const warnings: string[] = [];
  const l = await listenSocketBackend(HOST, 0, { onWarning: (m) => warnings.push(m) });
  const c = await connectSocketBackend(HOST, l.port, { onWarning: (m) => warnings.push(m) });
  await waitFor('the listener to accept', () => l.connected);
  return { l, c, warnings };
}

test('frames go both ways byte-exact: many small ones and some of 64 KiB', async () => {
  const { l, c } = await pair();
  const atL = collect(l);
  const atC = collect(c);
  const toL: Uint8Array[] = [];
  const toC: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) toL.push(frameOf(14 + ((i * 37) % 1500), i));
  for (let i = 0; i < 20; i++) toL.splice(i * 97, 0, frameOf(65550 - i, 1000 + i));
  for (let i = 0; i < 500; i++) toC.push(frameOf(i % 7 === 0 ? 65536 : 60 + i, 5000 + i));
  for (const f of toL) c.send(f);
  for (const f of toC) l.send(f);
  await waitFor('all frames', () => atL.length === toL.length && atC.length === toC.length, 20000);
  assert.deepEqual(atL, toL);
  assert.deepEqual(atC, toC);
  assert.equal(c.stats.framesOut, toL.length);
  assert.equal(l.stats.framesIn, toL.length);
  c.close();
  l.close();
});

test('the stream may be split anywhere or merged: byte-by-byte, odd pieces, all in one write', async () => {
  const l = await listenSocketBackend(HOST, 0);
  const got = collect(l);
  const s = await rawConnect(l.port);
  s.setNoDelay(true);
  const frames = [frameOf(60, 1), frameOf(1, 2), frameOf(3000, 3), frameOf(65550, 4), frameOf(14, 5)];
  const bytes = encode(frames);
  // byte by byte for the first frames, with pauses so they arrive as separate chunks
  for (let i = 0; i < 70; i++) {
    s.write(bytes.subarray(i, i + 1));
    if (i % 3 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  for (let i = 70; i < bytes.length; i += 4099) s.write(bytes.subarray(i, Math.min(i + 4099, bytes.length)));
  await waitFor('split frames', () => got.length === frames.length);
  s.write(encode(frames)); // merged: every frame in one chunk
  await waitFor('merged frames', () => got.length === 2 * frames.length);
  assert.deepEqual(got, [...frames, ...frames]);
  s.destroy();
  l.close();
});

test('the connecting side reads split and merged streams from a raw listener too', async () => {
  let peer: net.Socket | null = null;
  const server = net.createServer((s) => (peer = s));
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as net.AddressInfo).port;
  const c = await connectSocketBackend(HOST, port);
  const got = collect(c);
  await waitFor('accept', () => peer !== null);
  const frames = Array.from({ length: 300 }, (_, i) => frameOf(1 + ((i * 101) % 9000), i));
  const bytes = encode(frames);
  for (let i = 0; i < bytes.length; i += 777) peer!.write(bytes.subarray(i, i + 777));
  await waitFor('frames', () => got.length === frames.length);
  assert.deepEqual(got, frames);
  // and what it sends is length-prefixed
  const seen: Buffer[] = [];
  peer!.on('data', (d: Buffer) => seen.push(d));
  c.send(Uint8Array.of(1, 2, 3));
  await waitFor('raw bytes', () => Buffer.concat(seen).length >= 7);
  assert.deepEqual([...Buffer.concat(seen)], [0, 0, 0, 3, 1, 2, 3]);
  c.close();
  server.close();
});

test('listener: frames with no peer are dropped; after a disconnect the next peer is accepted', async () => {
  const warnings: string[] = [];
  const l = await listenSocketBackend(HOST, 0, { onWarning: (m) => warnings.push(m) });
  const atL = collect(l);
  assert.equal(l.connected, false);
  assert.doesNotThrow(() => l.send(frameOf(60, 0)));
  assert.equal(l.stats.drops, 1);
  const c1 = await connectSocketBackend(HOST, l.port);
  const at1 = collect(c1);
  await waitFor('first peer', () => l.connected);
  l.send(frameOf(60, 1));
  c1.send(frameOf(61, 1));
  await waitFor('first exchange', () => at1.length === 1 && atL.length === 1);
  c1.close();
  await waitFor('disconnect noticed', () => !l.connected);
  assert.match(warnings.join('\n'), /disconnected; waiting for the next one/);
  l.send(frameOf(60, 2)); // nobody there: dropped
  const c2 = await connectSocketBackend(HOST, l.port);
  const at2 = collect(c2);
  await waitFor('second peer', () => l.connected);
  l.send(frameOf(60, 3));
  c2.send(frameOf(62, 3));
  await waitFor('second exchange', () => at2.length === 1 && atL.length === 2);
  assert.deepEqual(at2, [frameOf(60, 3)]);
  assert.deepEqual(atL, [frameOf(61, 1), frameOf(62, 3)]);
  assert.equal(l.stats.drops, 2);
  c2.close();
  l.close();
});

test('listener: a second simultaneous peer is refused and the first keeps working', async () => {
  const { l, c, warnings } = await pair();
  const atC = collect(c);
  const intruder = await rawConnect(l.port);
  let intruderClosed = false;
  intruder.on('close', () => (intruderClosed = true));
  intruder.on('error', () => {});
  await waitFor('intruder refused', () => intruderClosed);
  assert.match(warnings.join('\n'), /refused 127\.0\.0\.1:\d+: a peer is already connected/);
  l.send(frameOf(100, 9));
  await waitFor('frame to the first peer', () => atC.length === 1);
  assert.deepEqual(atC, [frameOf(100, 9)]);
  c.close();
  l.close();
});

test('a bad length from the peer drops the connection with a warning, never an exception', async () => {
  for (const len of [0, 65551, 0xffffffff]) {
    const warnings: string[] = [];
    const l = await listenSocketBackend(HOST, 0, { onWarning: (m) => warnings.push(m) });
    const got = collect(l);
    const s = await rawConnect(l.port);
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => {});
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(len);
    s.write(Buffer.concat([encode([frameOf(20, 1)]), bad, Buffer.alloc(64)]));
    await waitFor('connection dropped', () => closed);
    assert.deepEqual(got, [frameOf(20, 1)], 'frames before the corruption still arrive');
    assert.match(warnings.join('\n'), new RegExp(`frame length of ${len} .*dropping the connection`));
    // and the listener takes a new peer afterwards
    const c = await connectSocketBackend(HOST, l.port);
    c.send(frameOf(30, 2));
    await waitFor('new peer frame', () => got.length === 2);
    c.close();
    l.close();
  }
});

test('connecting to a closed port rejects with a NetError naming the endpoint', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(connectSocketBackend(HOST, port), (e: unknown) => {
    assert.ok(e instanceof NetError);
    assert.match(e.message, new RegExp(`^net socket-connect=127\\.0\\.0\\.1:${port}: connection refused`));
    return true;
  });
  const t0 = Date.now();
  await assert.rejects(connectSocketBackend(HOST, port, { retryMs: 300 }), /connection refused/);
  assert.ok(Date.now() - t0 >= 250, 'retried for the whole window');
});

test('connect retries within its window until the listener appears', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, HOST, r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const pending = connectSocketBackend(HOST, port, { retryMs: 5000 });
  await new Promise((r) => setTimeout(r, 250));
  const l = await listenSocketBackend(HOST, port);
  const c = await pending;
  const got = collect(l);
  c.send(frameOf(99, 1));
  await waitFor('frame', () => got.length === 1);
  c.close();
  l.close();
});

test('listening on a port in use rejects with a NetError', async () => {
  const l = await listenSocketBackend(HOST, 0);
  await assert.rejects(listenSocketBackend(HOST, l.port), (e: unknown) => {
    assert.ok(e instanceof NetError);
    assert.match(e.message, new RegExp(`^net socket-listen=127\\.0\\.0\\.1:${l.port}: address already in use`));
    return true;
  });
  l.close();
});

test('the connecting side survives its peer going away', async () => {
  const { l, c, warnings } = await pair();
  l.close();
  await waitFor('disconnect noticed', () => !c.connected);
  assert.doesNotThrow(() => c.send(frameOf(60, 1)));
  assert.equal(c.stats.drops, 1);
  assert.match(warnings.join('\n'), /socket-connect=127\.0\.0\.1:\d+: peer disconnected/);
  c.close();
});

test('parseNetSpec accepts listen and connect endpoints with an optional MAC', () => {
  assert.deepEqual(parseNetSpec('socket-listen=127.0.0.1:1234'), { mode: 'listen', host: '127.0.0.1', port: 1234 });
  assert.deepEqual(parseNetSpec('socket-connect=example.com:80,mac=52:54:00:AB:cd:01'), { mode: 'connect', host: 'example.com', port: 80, mac: '52:54:00:ab:cd:01' });
  assert.deepEqual(parseNetSpec('socket-listen=[::1]:0'), { mode: 'listen', host: '::1', port: 0 });
  assert.deepEqual(parseNetSpec('socket-connect=[fe80::1:2]:65535'), { mode: 'connect', host: 'fe80::1:2', port: 65535 });
  assert.deepEqual(parseNetSpec('socket-listen=0.0.0.0:5555'), { mode: 'listen', host: '0.0.0.0', port: 5555 });
});

test('parseNetSpec rejects everything else with a NetError that says what is expected', () => {
  const cases: [string, RegExp][] = [
    ['', /unknown kind/],
    ['tap=tap0', /unknown kind/],
    ['socket-listen', /unknown kind/],
    ['socket=127.0.0.1:1', /unknown kind/],
    ['socket-listen=127.0.0.1', /missing :PORT/],
    ['socket-listen=:1234', /missing host/],
    ['socket-listen=127.0.0.1:', /port '' is not/],
    ['socket-listen=127.0.0.1:65536', /port '65536'/],
    ['socket-listen=127.0.0.1:-1', /port '-1'/],
    ['socket-listen=127.0.0.1:12ab', /port '12ab'/],
    ['socket-connect=127.0.0.1:0', /port 0 can only be used with socket-listen/],
    ['socket-connect=::1:1234', /brackets/],
    ['socket-connect=[::1:1234', /\[ADDR\]:PORT/],
    ['socket-connect=[::1]1234', /\[ADDR\]:PORT/],
    ['socket-connect=[nothost]:1234', /not an IPv6 address/],
    ['socket-connect=bad_host!:1', /not a host name/],
    ['socket-listen=127.0.0.1:1,mac=01:00:5e:00:00:01', /multicast/],
    ['socket-listen=127.0.0.1:1,mac=zz', /invalid MAC/],
    ['socket-listen=127.0.0.1:1,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02', /twice/],
    ['socket-listen=127.0.0.1:1,speed=10', /unknown setting 'speed=10'/],
    ['socket-listen=127.0.0.1:1,', /unknown setting ''/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseNetSpec(text), (e: unknown) => {
      assert.ok(e instanceof NetError, text);
      assert.match(e.message, why, text);
      assert.match(e.message, /expected socket-listen=HOST:PORT/, text);
      return true;
    });
  }
});
