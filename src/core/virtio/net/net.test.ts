// Tests of virtio-net (virtio 1.2 section 5.1) through the mock driver: transmit and receive paths, merged
// rx buffers, the backlog, checksum completion, hostile chains, a property test, and the MAC helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestRam } from '../../machine/memory.js';
import { concatBytes } from '../../test-bytes.js';
import { DescFlag, F_VERSION_1, Irq, Reg, Status } from '../constants.js';
import { VirtioMmio, type VirtioEvent } from '../mmio.js';
import { MockDriver, type MockBuffer } from '../mock-driver.js';
import type { NetBackend } from './backend.js';
import {
  GSO_ECN, GSO_TCPV4, GSO_TCPV6, HDR_F_NEEDS_CSUM, NET_F_CSUM, NET_F_HOST_TSO4, NET_F_HOST_TSO6, NET_F_GUEST_CSUM, NET_F_MAC, NET_F_MRG_RXBUF, NET_F_MTU, NET_F_STATUS, VirtioNet,
  formatMac, macFromName, parseMac,
} from './net.js';

const BASE = 0x8000_0000;
const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

class TestBackend implements NetBackend {
  sent: Uint8Array[] = [];
  receiver: ((f: Uint8Array) => void) | null = null;
  closed = false;
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  setReceiver(fn: (f: Uint8Array) => void): void {
    this.receiver = fn;
  }
  close(): void {
    this.closed = true;
  }
  inject(frame: Uint8Array): void {
    this.receiver!(frame);
  }
}

function setup(opts: { ramSize?: number; mtu?: number } = {}) {
  const ram = new GuestRam(BASE, opts.ramSize ?? 4 << 20);
  const backend = new TestBackend();
  const net = new VirtioNet({ mac: MAC, backend, name: 'virtio-net test', mtu: opts.mtu });
  let level = false;
  const events: VirtioEvent[] = [];
  const dev = new VirtioMmio(net, ram, { set: (l) => (level = l) }, (e) => events.push(e));
  const drv = new MockDriver(dev, ram);
  return { ram, backend, net, dev, drv, events, irq: () => level };
}

const noMrg = (drv: MockDriver) => drv.offeredFeatures() & ~NET_F_MRG_RXBUF;

/** A frame of `len` bytes: broadcast destination, our MAC as source, then a counting pattern. */
function frameOf(len: number, seed = 0): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seed * 13 + 1) & 0xff;
  f.fill(0xff, 0, 6);
  if (len > 6) f.set(MAC.subarray(0, Math.min(6, len - 6)), 6);
  return f;
}

function netHdr(fields: { flags?: number; gsoType?: number; gsoSize?: number; csumStart?: number; csumOffset?: number } = {}): Uint8Array {
  const h = new Uint8Array(12);
  const v = new DataView(h.buffer);
  v.setUint8(0, fields.flags ?? 0);
  v.setUint8(1, fields.gsoType ?? 0);
  v.setUint16(4, fields.gsoSize ?? 0, true);
  v.setUint16(6, fields.csumStart ?? 0, true);
  v.setUint16(8, fields.csumOffset ?? 0, true);
  return h;
}

const cat = concatBytes;

/** Reassembles received frames from used rx entries, following num_buffers. */
function received(drv: MockDriver): { frames: Uint8Array[]; headers: DataView[] } {
  const used = drv.used(0);
  const frames: Uint8Array[] = [];
  const headers: DataView[] = [];
  for (let i = 0; i < used.length; ) {
    const first = used[i];
    if (first.len === 0) {
      i++; // a buffer returned unused (too small for a header)
      continue;
    }
    assert.ok(first.len >= 12, `used length ${first.len} holds a header`);
    const h = new DataView(first.data.buffer, first.data.byteOffset, 12);
    const n = h.getUint16(10, true);
    assert.ok(n >= 1 && i + n <= used.length, `num_buffers ${n} within the used entries`);
    const parts = used.slice(i, i + n).map((u) => u.data.subarray(0, u.len));
    frames.push(cat(...parts).subarray(12));
    headers.push(h);
    i += n;
  }
  return { frames, headers };
}

test('virtio-net identifies itself and offers MAC, STATUS, CSUM and MRG_RXBUF; config has mac, status, pairs, mtu', () => {
  const { drv } = setup();
  assert.equal(drv.reg(Reg.DeviceID), 1);
  const f = drv.offeredFeatures();
  for (const bit of [NET_F_MAC, NET_F_STATUS, NET_F_CSUM, NET_F_MRG_RXBUF, NET_F_HOST_TSO4, NET_F_HOST_TSO6]) assert.ok(f & bit);
  assert.equal(f & NET_F_GUEST_CSUM, 0n, 'rx checksums are never claimed valid');
  assert.equal(f & NET_F_MTU, 0n, 'no MTU unless configured');
  for (let q = 0; q < 2; q++) {
    drv.setReg(Reg.QueueSel, q);
    assert.equal(drv.reg(Reg.QueueNumMax), 256);
  }
  drv.setReg(Reg.QueueSel, 2);
  assert.equal(drv.reg(Reg.QueueNumMax), 0, 'no control queue');
  const cfg = (o: number, w: number) => Number(drv.dev.read(Reg.Config + o, w));
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => cfg(i, 1)), [...MAC]);
  assert.equal(cfg(6, 2), 1, 'LINK_UP');
  assert.equal(cfg(8, 2), 1, 'max_virtqueue_pairs');
  assert.equal(cfg(0, 4), 0x12005452);
  const m = setup({ mtu: 9000 });
  assert.ok(m.drv.offeredFeatures() & NET_F_MTU);
  assert.equal(Number(m.drv.dev.read(Reg.Config + 10, 2)), 9000);
  assert.throws(() => new VirtioNet({ mac: new Uint8Array(5), backend: new TestBackend() }), /6 bytes/);
});

test('tx: frames reach the backend byte-exact, whatever the chain layout; chains come back with length 0', () => {
  const { drv, backend, net, irq } = setup();
  drv.init();
  const layouts: { name: string; bufs: (f: Uint8Array) => MockBuffer[]; indirect?: boolean }[] = [
    { name: 'header and frame in one buffer', bufs: (f) => [{ data: cat(netHdr(), f) }] },
    { name: 'header split from the data', bufs: (f) => [{ data: netHdr() }, { data: f }] },
    { name: 'header split mid-way, frame in pieces', bufs: (f) => [{ data: netHdr().subarray(0, 5) }, { data: cat(netHdr().subarray(5), f.subarray(0, 3)) }, { data: f.subarray(3, 40) }, { data: f.subarray(40) }] },
    { name: 'indirect, one buffer', bufs: (f) => [{ data: cat(netHdr(), f) }], indirect: true },
    { name: 'indirect, split', bufs: (f) => [{ data: netHdr() }, { data: f.subarray(0, 20) }, { data: f.subarray(20) }], indirect: true },
  ];
  const expected: Uint8Array[] = [];
  layouts.forEach((l, i) => {
    const f = frameOf(60 + 100 * i, i);
    expected.push(f);
    drv.add(1, l.bufs(f), { indirect: l.indirect });
  });
  drv.add(1, [{ data: netHdr() }, { data: frameOf(65550, 9) }]);
  expected.push(frameOf(65550, 9));
  drv.kick(1);
  assert.deepEqual(backend.sent, expected);
  const used = drv.used(1);
  assert.equal(used.length, layouts.length + 1);
  assert.ok(used.every((u) => u.len === 0));
  assert.ok(irq());
  assert.equal(drv.ackInterrupt(), Irq.USED_BUFFER);
  assert.equal(net.stats.txFrames, layouts.length + 1);
  assert.equal(net.stats.txBytes, expected.reduce((n, f) => n + f.length, 0));
  assert.equal(net.stats.txDropped, 0);
});

test('tx: short, oversized and GSO frames are dropped and counted; their chains are still returned', () => {
  const { drv, backend, net, events } = setup();
  drv.init();
  drv.add(1, [{ data: netHdr() }, { data: frameOf(13) }]); // shorter than an Ethernet header
  drv.add(1, [{ data: netHdr().subarray(0, 8) }]); // not even a header
  drv.add(1, [{ data: netHdr() }, { data: frameOf(65551) }]); // over the limit
  drv.add(1, [{ data: netHdr({ gsoType: 1, gsoSize: 50 }) }, { data: frameOf(100) }]); // TSO of something not TCP/IPv4
  drv.add(1, [{ data: netHdr() }]); // header only
  drv.add(1, [{ writable: 64 }]); // nothing readable at all
  drv.add(1, [{ data: netHdr() }, { data: frameOf(14) }]); // the shortest legal frame
  drv.kick(1);
  assert.deepEqual(backend.sent, [frameOf(14)]);
  assert.equal(drv.used(1).length, 7);
  assert.equal(net.stats.txDropped, 6);
  assert.equal(net.stats.txFrames, 1);
  assert.equal(drv.status() & Status.DEVICE_NEEDS_RESET, 0);
  assert.equal(events.length, 0);
});

test('rx without MRG_RXBUF: one chain per frame, header zeroed except num_buffers = 1', () => {
  const { drv, backend, net, irq } = setup();
  drv.init({ features: noMrg(drv) });
  drv.add(0, [{ writable: 1526 }]);
  drv.add(0, [{ writable: 12 }, { writable: 1514 }]); // header and data in separate descriptors
  drv.add(0, [{ writable: 1526 }], { indirect: true });
  drv.kick(0);
  const frames = [frameOf(60, 1), frameOf(1514, 2), frameOf(333, 3)];
  for (const f of frames) backend.inject(f);
  assert.ok(irq());
  const used = drv.used(0);
  assert.deepEqual(used.map((u) => u.len), frames.map((f) => 12 + f.length));
  for (let i = 0; i < 3; i++) {
    const hdr = used[i].data.subarray(0, 12);
    assert.deepEqual([...hdr], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert.deepEqual(used[i].data.subarray(12, 12 + frames[i].length), frames[i]);
  }
  assert.equal(net.stats.rxFrames, 3);
  assert.equal(net.stats.rxBytes, 60 + 1514 + 333);
});

test('rx with MRG_RXBUF: a frame spans several chains and num_buffers counts them', () => {
  const { drv, backend } = setup();
  drv.init();
  for (let i = 0; i < 4; i++) drv.add(0, [{ writable: 100 }]);
  drv.kick(0);
  const f = frameOf(250);
  backend.inject(f);
  const used = drv.used(0);
  assert.deepEqual(used.map((u) => u.len), [100, 100, 62]);
  assert.equal(new DataView(used[0].data.buffer).getUint16(10, true), 3);
  assert.deepEqual(cat(...used.map((u) => u.data.subarray(0, u.len))).subarray(12), f);
  // the fourth chain takes the next small frame with num_buffers 1
  backend.inject(frameOf(40, 5));
  const { frames, headers } = received(drv);
  assert.deepEqual(frames, [frameOf(40, 5)]);
  assert.equal(headers[0].getUint16(10, true), 1);
});

test('rx with MRG_RXBUF: a frame waits for enough buffers, then arrives whole', () => {
  const { drv, backend, net } = setup();
  drv.init();
  drv.add(0, [{ writable: 100 }]);
  drv.kick(0);
  backend.inject(frameOf(250));
  backend.inject(frameOf(20, 1));
  assert.equal(drv.used(0).length, 0, 'nothing returned until the whole frame fits');
  drv.add(0, [{ writable: 100 }]);
  drv.add(0, [{ writable: 100 }]);
  drv.add(0, [{ writable: 100 }]);
  drv.kick(0);
  assert.deepEqual(received(drv).frames, [frameOf(250), frameOf(20, 1)]);
  assert.equal(net.stats.rxDropped, 0);
});

test('rx backlog: frames wait for buffers and are delivered in order when the driver posts and notifies', () => {
  const { drv, backend, net, irq } = setup();
  drv.init();
  const frames = Array.from({ length: 10 }, (_, i) => frameOf(64 + i, i));
  for (const f of frames) backend.inject(f);
  assert.equal(irq(), false);
  assert.equal(net.stats.rxFrames, 0);
  for (let i = 0; i < 4; i++) drv.add(0, [{ writable: 2048 }]);
  drv.kick(0);
  assert.ok(irq());
  assert.deepEqual(received(drv).frames, frames.slice(0, 4));
  for (let i = 0; i < 6; i++) drv.add(0, [{ writable: 2048 }]);
  drv.kick(0);
  assert.deepEqual(received(drv).frames, frames.slice(4));
  assert.equal(net.stats.rxFrames, 10);
});

test('rx backlog is bounded (tail drop, counted) and a reset clears it', () => {
  const { drv, backend, net } = setup();
  drv.init();
  for (let i = 0; i < 300; i++) backend.inject(frameOf(60, i));
  assert.equal(net.stats.rxDropped, 44);
  for (let i = 0; i < 256; i++) drv.add(0, [{ writable: 1526 }]);
  drv.kick(0);
  const got = received(drv).frames;
  assert.equal(got.length, 256);
  assert.deepEqual(got[255], frameOf(60, 255), 'the oldest frames are kept');
  for (let i = 0; i < 5; i++) backend.inject(frameOf(60, i));
  drv.init(); // reset and start again: the 5 backlogged frames are gone
  assert.equal(net.stats.rxDropped, 49);
  drv.add(0, [{ writable: 1526 }]);
  drv.kick(0);
  assert.equal(drv.used(0).length, 0);
});

test('rx: frames before DRIVER_OK, runts and oversized frames are dropped', () => {
  const { drv, backend, net } = setup({ mtu: 1500 });
  backend.inject(frameOf(60));
  assert.equal(net.stats.rxDropped, 1);
  drv.init();
  for (let i = 0; i < 8; i++) drv.add(0, [{ writable: 4096 }]);
  drv.kick(0);
  backend.inject(frameOf(13));
  backend.inject(frameOf(1519)); // past mtu + Ethernet header + VLAN tag
  backend.inject(frameOf(1518));
  assert.equal(net.stats.rxDropped, 3);
  assert.deepEqual(received(drv).frames, [frameOf(1518)]);
});

// An independent verifier: the Internet checksum (RFC 1071) computed from 32-bit-word sums, used to check
// packets whose checksum the device completed.
function verifyChecksum(bytes: Uint8Array): number {
  let sum = 0n;
  const padded = bytes.length % 2 ? cat(bytes, new Uint8Array(1)) : bytes;
  for (let i = 0; i < padded.length; i += 2) sum += BigInt(padded[i] * 256 + padded[i + 1]);
  while (sum >> 16n) sum = (sum & 0xffffn) + (sum >> 16n);
  return Number(sum); // 0xffff when the data (including its checksum) is correct
}

/** IPv4 + TCP/UDP packet in an Ethernet frame with the partial checksum Linux leaves for the device. */
function l4Frame(proto: 6 | 17, payload: Uint8Array, tcpFlags = 0x18): { frame: Uint8Array; csumStart: number; csumOffset: number } {
  const l4len = (proto === 6 ? 20 : 8) + payload.length;
  const frame = new Uint8Array(14 + 20 + l4len);
  const v = new DataView(frame.buffer);
  frame.set([0x52, 0x54, 0, 0, 0, 2], 0);
  frame.set(MAC, 6);
  v.setUint16(12, 0x0800);
  const ip = 14;
  v.setUint8(ip, 0x45);
  v.setUint16(ip + 2, 20 + l4len);
  v.setUint16(ip + 4, 0x1234);
  v.setUint8(ip + 8, 64);
  v.setUint8(ip + 9, proto);
  frame.set([10, 0, 0, 1], ip + 12);
  frame.set([10, 0, 0, 2], ip + 16);
  v.setUint16(ip + 10, ~verifyChecksum(frame.subarray(ip, ip + 20)) & 0xffff);
  const l4 = ip + 20;
  v.setUint16(l4, 40000);
  v.setUint16(l4 + 2, proto === 6 ? 80 : 53);
  if (proto === 6) {
    v.setUint32(l4 + 4, 1000);
    v.setUint8(l4 + 12, 5 << 4);
    v.setUint8(l4 + 13, tcpFlags);
    v.setUint16(l4 + 14, 65535);
  } else {
    v.setUint16(l4 + 4, l4len);
  }
  frame.set(payload, l4 + (proto === 6 ? 20 : 8));
  // pseudo-header sum, not inverted, in the checksum field (what CHECKSUM_PARTIAL means)
  const pseudo = cat(frame.subarray(ip + 12, ip + 20), Uint8Array.of(0, proto, l4len >> 8, l4len & 0xff));
  const csumOffset = proto === 6 ? 16 : 6;
  v.setUint16(l4 + csumOffset, verifyChecksum(pseudo));
  return { frame, csumStart: l4, csumOffset };
}

test('tx checksum offload: NEEDS_CSUM is completed so that the TCP and UDP checksums verify', () => {
  const { drv, backend, net } = setup();
  drv.init();
  const packets = [
    l4Frame(17, new TextEncoder().encode('hello, udp')),
    l4Frame(6, Uint8Array.from({ length: 1001 }, (_, i) => (i * 31) & 0xff)), // odd length
    l4Frame(17, new Uint8Array(0)),
  ];
  for (const p of packets) {
    drv.add(1, [{ data: netHdr({ flags: HDR_F_NEEDS_CSUM, csumStart: p.csumStart, csumOffset: p.csumOffset }) }, { data: p.frame }]);
  }
  drv.kick(1);
  assert.equal(backend.sent.length, 3);
  backend.sent.forEach((f, i) => {
    const ipHdr = f.subarray(14, 34);
    const l4 = f.subarray(34);
    const pseudo = cat(ipHdr.subarray(12, 20), Uint8Array.of(0, ipHdr[9], l4.length >> 8, l4.length & 0xff));
    assert.equal(verifyChecksum(cat(pseudo, l4)), 0xffff, `packet ${i} checksum verifies`);
    assert.notEqual(new DataView(l4.buffer, l4.byteOffset).getUint16(packets[i].csumOffset), 0, 'never 0 (UDP: no checksum)');
    // only the checksum field changed
    const a = packets[i].frame;
    const at = packets[i].csumStart + packets[i].csumOffset;
    assert.deepEqual(cat(f.subarray(0, at), f.subarray(at + 2)), cat(a.subarray(0, at), a.subarray(at + 2)));
  });
  assert.equal(net.stats.txDropped, 0);
});

test('tx checksum offload: offsets outside the frame drop it instead of writing out of bounds', () => {
  const { drv, backend, net } = setup();
  drv.init();
  const f = frameOf(60);
  for (const [start, off] of [[60, 0], [58, 2], [59, 0], [0xffff, 0xffff], [14, 45]]) {
    drv.add(1, [{ data: netHdr({ flags: HDR_F_NEEDS_CSUM, csumStart: start, csumOffset: off }) }, { data: f }]);
  }
  drv.add(1, [{ data: netHdr({ flags: HDR_F_NEEDS_CSUM, csumStart: 14, csumOffset: 44 }) }, { data: f }]); // last 2 bytes
  drv.kick(1);
  assert.equal(net.stats.txDropped, 5);
  assert.equal(backend.sent.length, 1);
  assert.equal(drv.used(1).length, 6);
});

/** TCP over IPv6 with 12 bytes of TCP options (timestamps), the checksum field left as garbage. */
function tcp6Frame(payload: Uint8Array, tcpFlags: number): Uint8Array {
  const tcpLen = 32 + payload.length;
  const frame = new Uint8Array(14 + 40 + tcpLen);
  const v = new DataView(frame.buffer);
  frame.set([0x52, 0x54, 0, 0, 0, 2], 0);
  frame.set(MAC, 6);
  v.setUint16(12, 0x86dd);
  v.setUint32(14, 0x60000000);
  v.setUint16(18, tcpLen);
  v.setUint8(20, 6);
  v.setUint8(21, 64);
  frame.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 22);
  frame.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 38);
  const l4 = 54;
  v.setUint16(l4, 40000);
  v.setUint16(l4 + 2, 22);
  v.setUint32(l4 + 4, 0xfffff000); // the sequence number wraps within the packet
  v.setUint8(l4 + 12, 8 << 4);
  v.setUint8(l4 + 13, tcpFlags);
  v.setUint16(l4 + 16, 0xbeef);
  frame.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], l4 + 20);
  frame.set(payload, l4 + 32);
  return frame;
}

/** Checks TSO output against the original packet with independent parsing and checksum verification. */
function checkSegments(segs: Uint8Array[], orig: Uint8Array, ipv: 4 | 6, mss: number): void {
  const l4 = ipv === 4 ? 34 : 54;
  const hdrEnd = l4 + (orig[l4 + 12] >> 4) * 4;
  const payload = orig.subarray(hdrEnd);
  const ov = new DataView(orig.buffer, orig.byteOffset);
  assert.equal(segs.length, Math.max(1, Math.ceil(payload.length / mss)));
  const flags = orig[l4 + 13];
  segs.forEach((seg, i) => {
    const sv = new DataView(seg.buffer, seg.byteOffset);
    const last = i === segs.length - 1;
    assert.equal(seg.length - hdrEnd, last ? payload.length - i * mss : mss, `segment ${i} size`);
    assert.deepEqual(seg.subarray(0, 14), orig.subarray(0, 14));
    if (ipv === 4) {
      assert.equal(verifyChecksum(seg.subarray(14, 34)), 0xffff, `segment ${i} IPv4 header checksum`);
      assert.equal(sv.getUint16(16), seg.length - 14, 'total length');
      assert.equal(sv.getUint16(18), (ov.getUint16(18) + i) & 0xffff, 'id');
    } else {
      assert.equal(sv.getUint16(18), seg.length - 54, 'payload length');
    }
    assert.equal(sv.getUint32(l4 + 4), (ov.getUint32(l4 + 4) + i * mss) >>> 0, 'sequence number');
    const want = (last ? flags : flags & ~0x09) & (i === 0 ? 0xff : ~0x80);
    assert.equal(seg[l4 + 13], want, `segment ${i} TCP flags`);
    assert.deepEqual(seg.subarray(l4 + 14, l4 + 16), orig.subarray(l4 + 14, l4 + 16), 'window');
    assert.deepEqual(seg.subarray(l4 + 20, hdrEnd), orig.subarray(l4 + 20, hdrEnd), 'options');
    const tcp = seg.subarray(l4);
    const addrs = ipv === 4 ? seg.subarray(26, 34) : seg.subarray(22, 54);
    const pseudo = cat(addrs, Uint8Array.of(0, 0, tcp.length >> 8, tcp.length & 0xff, 0, 0, 0, 6));
    assert.equal(verifyChecksum(cat(pseudo, tcp)), 0xffff, `segment ${i} TCP checksum`);
  });
  assert.deepEqual(cat(...segs.map((s) => s.subarray(hdrEnd))), payload, 'payload reassembles');
}

test('tx TSO: TCP/IPv4 and TCP/IPv6 packets are segmented with correct headers and checksums', () => {
  const { drv, backend, net } = setup();
  drv.init();
  const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13 + 5) & 0xff);
  const v4 = l4Frame(6, data, 0x80 | 0x18 | 0x01).frame; // CWR, PSH, ACK, FIN
  const v6 = tcp6Frame(data.subarray(0, 4000), 0x18);
  const big = l4Frame(6, new Uint8Array(65535 - 40), 0x10).frame;
  const hdr = (gsoType: number, gsoSize: number, l4: number) => netHdr({ flags: HDR_F_NEEDS_CSUM, gsoType, gsoSize, csumStart: l4, csumOffset: 16 });
  drv.add(1, [{ data: hdr(GSO_TCPV4, 1448, 34) }, { data: v4 }]);
  drv.add(1, [{ data: cat(hdr(GSO_TCPV6, 1428, 54), v6) }], { indirect: true });
  drv.add(1, [{ data: hdr(GSO_TCPV4, 1460, 34) }, { data: big }]);
  drv.add(1, [{ data: hdr(GSO_TCPV4, 9000, 34) }, { data: v4 }]); // one segment: only the checksum is done
  drv.kick(1);
  const n4 = Math.ceil(5000 / 1448);
  const n6 = Math.ceil(4000 / 1428);
  const nBig = Math.ceil((65535 - 40) / 1460);
  assert.equal(backend.sent.length, n4 + n6 + nBig + 1);
  checkSegments(backend.sent.slice(0, n4), v4, 4, 1448);
  checkSegments(backend.sent.slice(n4, n4 + n6), v6, 6, 1428);
  checkSegments(backend.sent.slice(n4 + n6, n4 + n6 + nBig), big, 4, 1460);
  checkSegments(backend.sent.slice(-1), v4, 4, 9000);
  assert.equal(net.stats.txFrames, backend.sent.length);
  assert.equal(net.stats.txDropped, 0);
  assert.equal(drv.used(1).length, 4);
});

test('tx TSO: malformed or unnegotiated segmentation requests are dropped', () => {
  const { drv, backend, net } = setup();
  drv.init();
  const v4 = l4Frame(6, new Uint8Array(3000)).frame;
  const frag = v4.slice();
  frag[20] = 0x20; // more fragments
  const udp = l4Frame(17, new Uint8Array(3000)).frame;
  const bad: [number, number, Uint8Array][] = [
    [GSO_TCPV4, 0, v4], // no MSS
    [GSO_TCPV4 | GSO_ECN, 1448, v4], // ECN was not offered
    [3, 1448, udp], // UFO was not offered
    [GSO_TCPV4, 1448, udp], // not TCP
    [GSO_TCPV6, 1448, v4], // not IPv6
    [GSO_TCPV4, 1448, frag], // a fragment
    [GSO_TCPV4, 1, v4], // more segments than allowed
    [GSO_TCPV4, 1448, v4.subarray(0, 40)], // truncated TCP header
  ];
  for (const [type, size, f] of bad) drv.add(1, [{ data: netHdr({ flags: HDR_F_NEEDS_CSUM, gsoType: type, gsoSize: size, csumStart: 34, csumOffset: 16 }) }, { data: f }]);
  drv.kick(1);
  assert.equal(backend.sent.length, 0);
  assert.equal(net.stats.txDropped, bad.length);
  // without HOST_TSO4 negotiated, a TSO request is dropped too
  const other = setup();
  other.drv.init({ features: other.drv.offeredFeatures() & ~(NET_F_HOST_TSO4 | NET_F_HOST_TSO6) });
  other.drv.add(1, [{ data: netHdr({ flags: HDR_F_NEEDS_CSUM, gsoType: GSO_TCPV4, gsoSize: 1448, csumStart: 34, csumOffset: 16 }) }, { data: v4 }]);
  other.drv.kick(1);
  assert.equal(other.backend.sent.length, 0);
  assert.equal(other.net.stats.txDropped, 1);
  // and TSO without checksum offload is refused at FEATURES_OK (5.1.3.1)
  assert.throws(() => other.drv.init({ features: other.drv.offeredFeatures() & ~NET_F_CSUM }), /refused/);
});

test('hostile rx: buffers too small, without writable space, or looping never throw', () => {
  const { drv, backend, net, events } = setup();
  drv.init({ features: noMrg(drv) });
  drv.add(0, [{ writable: 100 }]);
  drv.kick(0);
  backend.inject(frameOf(200)); // does not fit: dropped, the buffer is kept
  assert.equal(net.stats.rxDropped, 1);
  assert.equal(drv.used(0).length, 0);
  backend.inject(frameOf(50)); // fits the kept buffer
  assert.deepEqual(received(drv).frames, [frameOf(50)]);

  drv.add(0, [{ data: new Uint8Array(64) }]); // readable only
  drv.add(0, [{ writable: 11 }]); // smaller than a header
  drv.add(0, [{ writable: 80 }]);
  drv.kick(0);
  backend.inject(frameOf(60, 7));
  const used = drv.used(0);
  assert.deepEqual(used.map((u) => u.len), [0, 0, 72]);
  assert.equal(net.stats.rxBadBuffers, 2);
  assert.equal(drv.status() & Status.DEVICE_NEEDS_RESET, 0);

  // a descriptor loop arriving with a frame from the wire: DEVICE_NEEDS_RESET, reported, no exception
  const buf = drv.alloc(64);
  const l = drv.layout(0);
  drv.writeDesc(0, l.nextDesc, { addr: buf, len: 64, flags: DescFlag.WRITE | DescFlag.NEXT, next: l.nextDesc });
  drv.publish(0, l.nextDesc);
  assert.doesNotThrow(() => backend.inject(frameOf(60)));
  assert.ok(drv.status() & Status.DEVICE_NEEDS_RESET);
  assert.match(events[0].reason, /loop/);
  assert.doesNotThrow(() => backend.inject(frameOf(60)));
  drv.init();
  drv.add(0, [{ writable: 1526 }]);
  drv.kick(0);
  backend.inject(frameOf(60, 3));
  assert.deepEqual(received(drv).frames, [frameOf(60, 3)], 'works again after a reset');
});

test('link down: tx dropped, rx dropped, config change interrupt; link up again', () => {
  const { drv, backend, net, irq } = setup();
  drv.init();
  drv.ackInterrupt();
  net.setLink(false);
  assert.ok(irq());
  assert.equal(drv.ackInterrupt(), Irq.CONFIG_CHANGE);
  assert.equal(Number(drv.dev.read(Reg.Config + 6, 2)), 0);
  drv.add(0, [{ writable: 1526 }]);
  drv.kick(0);
  backend.inject(frameOf(60));
  drv.add(1, [{ data: cat(netHdr(), frameOf(60)) }]);
  drv.kick(1);
  assert.equal(backend.sent.length, 0);
  assert.equal(net.stats.rxDropped + net.stats.txDropped, 2);
  net.setLink(true);
  backend.inject(frameOf(61));
  assert.deepEqual(received(drv).frames, [frameOf(61)]);
  net.close();
  assert.ok(backend.closed);
});

test('property: random interleavings of tx, rx, buffer posts and notifies keep every frame intact and in order', () => {
  type Op =
    | { kind: 'tx'; len: number; split: number; indirect: boolean }
    | { kind: 'rx'; len: number }
    | { kind: 'post'; size: number; pieces: number; indirect: boolean }
    | { kind: 'kick' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('tx' as const), len: fc.integer({ min: 0, max: 3000 }), split: fc.integer({ min: 0, max: 3100 }), indirect: fc.boolean() }),
    fc.record({ kind: fc.constant('rx' as const), len: fc.integer({ min: 10, max: 4000 }) }),
    fc.record({ kind: fc.constant('post' as const), size: fc.integer({ min: 0, max: 3000 }), pieces: fc.integer({ min: 1, max: 3 }), indirect: fc.boolean() }),
    fc.record({ kind: fc.constant('kick' as const) }),
  );
  fc.assert(
    fc.property(fc.boolean(), fc.array(opArb, { maxLength: 60 }), (mrg, ops) => {
      const { drv, backend, net, events } = setup({ ramSize: 8 << 20 });
      drv.init(mrg ? {} : { features: noMrg(drv) });
      const sentExpected: Uint8Array[] = [];
      const injected: Uint8Array[] = [];
      let seed = 0;
      for (const op of ops) {
        if (op.kind === 'tx') {
          const f = frameOf(op.len, seed++);
          const all = cat(netHdr(), f);
          const at = Math.min(op.split, all.length);
          drv.add(1, [{ data: all.subarray(0, at) }, { data: all.subarray(at) }], { indirect: op.indirect });
          drv.kick(1);
          if (op.len >= 14) sentExpected.push(f);
        } else if (op.kind === 'rx') {
          const f = frameOf(op.len, seed++);
          injected.push(f);
          backend.inject(f);
        } else if (op.kind === 'post') {
          const piece = Math.ceil(op.size / op.pieces);
          drv.add(0, Array.from({ length: op.pieces }, () => ({ writable: piece })), { indirect: op.indirect });
        } else {
          drv.kick(0);
        }
      }
      // drain: enough big buffers for everything still waiting
      for (let i = 0; i < 40; i++) drv.add(0, [{ writable: 4200 }]);
      drv.kick(0);
      assert.equal(events.length, 0);
      assert.deepEqual(backend.sent, sentExpected);
      const got = received(drv).frames;
      // delivered frames are the injected ones in order, minus those dropped (runts, or too big for a
      // non-merged buffer)
      let j = 0;
      for (const f of got) {
        while (j < injected.length && (injected[j].length !== f.length || !injected[j].every((b, k) => b === f[k]))) j++;
        assert.ok(j < injected.length, 'a received frame matches an injected one, in order');
        j++;
      }
      assert.equal(net.stats.rxFrames, got.length);
      assert.equal(net.stats.rxFrames + net.stats.rxDropped, injected.length);
      if (mrg) assert.equal(net.stats.rxDropped, injected.filter((f) => f.length < 14).length, 'with merged buffers only runts are lost');
    }),
    { numRuns: 150 },
  );
});

test('property: arbitrary tx headers and packet bytes never throw, never fail the device, and send sane frames', () => {
  const base = l4Frame(6, new Uint8Array(3000)).frame;
  const v6 = tcp6Frame(new Uint8Array(2000), 0x19);
  fc.assert(
    fc.property(
      fc.array(fc.record({
        hdr: fc.uint8Array({ minLength: 12, maxLength: 12 }),
        gso: fc.constantFrom(0, 1, 3, 4, 0x81, 0xff),
        template: fc.constantFrom(base, v6, frameOf(200)),
        pokes: fc.array(fc.tuple(fc.nat(80), fc.nat(255)), { maxLength: 6 }),
        cut: fc.nat(4000),
      }), { maxLength: 12 }),
      (items) => {
        const { drv, backend, net, events } = setup();
        drv.init();
        for (const it of items) {
          const f = it.template.slice(0, Math.max(it.cut, 1));
          for (const [at, v] of it.pokes) if (at < f.length) f[at] = v;
          const hdr = it.hdr.slice();
          hdr[1] = it.gso;
          drv.add(1, [{ data: hdr }, { data: f }]);
        }
        drv.kick(1);
        assert.equal(events.length, 0);
        assert.equal(drv.used(1).length, items.length);
        assert.ok(backend.sent.every((f) => f.length >= 14 && f.length <= 65550));
        assert.equal(net.stats.txFrames, backend.sent.length);
      },
    ),
    { numRuns: 200 },
  );
});

test('macFromName: stable, locally administered unicast, different per name', () => {
  const a = macFromName('vm1/0');
  assert.deepEqual(macFromName('vm1/0'), a);
  assert.equal(a.length, 6);
  assert.equal(a[0] & 1, 0, 'unicast');
  assert.equal(a[0] & 2, 2, 'locally administered');
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const m = macFromName(`vm${i}/0`);
    assert.equal(m[0] & 3, 2);
    seen.add(formatMac(m));
  }
  assert.equal(seen.size, 2000);
  assert.notDeepEqual(macFromName('vm1/1'), a);
  assert.notDeepEqual(macFromName(''), a);
});

test('parseMac accepts colon and dash forms and rejects malformed, multicast and zero addresses', () => {
  assert.deepEqual([...parseMac('52:54:00:12:34:56')], [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
  assert.deepEqual([...parseMac('02-AB-cd-EF-00-01')], [2, 0xab, 0xcd, 0xef, 0, 1]);
  assert.equal(formatMac(parseMac('52:54:00:ab:CD:ef')), '52:54:00:ab:cd:ef');
  for (const bad of ['', '52:54:00:12:34', '52:54:00:12:34:56:78', '52:54:00:12:34:5g', '5254.0012.3456', '52:54-00:12:34:56', '525400123456', ' 52:54:00:12:34:567']) {
    assert.throws(() => parseMac(bad), /invalid MAC address/, bad);
  }
  assert.throws(() => parseMac('01:00:5e:00:00:01'), /multicast/);
  assert.throws(() => parseMac('ff:ff:ff:ff:ff:ff'), /multicast/);
  assert.throws(() => parseMac('00:00:00:00:00:00'), /not usable/);
});
