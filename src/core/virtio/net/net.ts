// virtio-net, the network device (virtio 1.2 section 5.1): one receive and one transmit queue carrying
// Ethernet frames behind a 12-byte virtio_net_hdr; transmit checksum completion and TCP segmentation
// (TSO4/TSO6) done by the device, merged rx buffers, a bounded backlog for frames awaiting rx buffers, and
// optional rate limiters on each direction.
import { DeviceId } from '../constants.js';
import { ConfigSpace, type VirtioContext, type VirtioDevice } from '../mmio.js';
import { type DescriptorChain, VirtqueueError, gather, scatter } from '../queue.js';
import { MIN_THROTTLE_MS, type IoLimiter, type LimiterState } from '../limiter.js';
import { RecordReader, SnapshotError, base64Text } from '../../snapshot/state.js';
import { ETH_HLEN, MAX_FRAME, type NetBackend } from './backend.js';

/** Device feature bits (5.1.3). */
export const NET_F_CSUM = 1n << 0n; // the device completes partial checksums on transmit
export const NET_F_GUEST_CSUM = 1n << 1n; // the driver accepts partially checksummed frames (not offered)
export const NET_F_MTU = 1n << 3n; // config mtu is valid (offered only when the constructor is given one)
export const NET_F_MAC = 1n << 5n; // config mac is valid
export const NET_F_HOST_TSO4 = 1n << 11n; // the driver may hand over TCP/IPv4 up to 64 KiB; the device segments
export const NET_F_HOST_TSO6 = 1n << 12n; // the same for TCP/IPv6
export const NET_F_HOST_ECN = 1n << 13n; // not offered: TSO with ECN (CWR handling beyond the first segment)
export const NET_F_MRG_RXBUF = 1n << 15n; // one received frame may span several rx chains
export const NET_F_STATUS = 1n << 16n; // config status is valid
export const NET_F_CTRL_VQ = 1n << 17n; // not offered: no control queue

/** struct virtio_net_hdr with VERSION_1 (5.1.6): flags u8, gso_type u8, hdr_len, gso_size, csum_start,
 *  csum_offset, num_buffers (all le16). */
export const NET_HDR_SIZE = 12;
export const HDR_F_NEEDS_CSUM = 1; // csum_start/csum_offset describe a checksum the device must complete
export const HDR_F_DATA_VALID = 2;
/** gso_type values (5.1.6). */
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
export const GSO_ECN = 0x80;

/** Config status bits (5.1.4). */
export const NET_S_LINK_UP = 1;

/** Receive queue and transmit queue indices (5.1.2) and their size. */
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
const QUEUE_SIZE = 256;

/** Ethernet header length; frames shorter than this carry no addresses and are dropped. */
export const MIN_FRAME = ETH_HLEN;
export { MAX_FRAME };
/** Frames waiting for rx buffers: bounded so a guest that never posts buffers cannot eat host memory. */
const BACKLOG_FRAMES = 256;
const BACKLOG_BYTES = 4 * 1024 * 1024;
/** An 802.1Q tag may follow the Ethernet header without counting against the MTU. */
const VLAN_HLEN = 4;
/** Most segments one TSO frame may produce (64 KiB at an MSS of 32), so a tiny gso_size cannot flood. */
const MAX_SEGMENTS = 2048;

export interface NetStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames for the guest that were not delivered (inactive device, backlog full, too big, bad). */
  rxDropped: number;
  /** Frames from the guest that were not sent (too short, too long, bad header). */
  txDropped: number;
  /** Rx chains returned unused because they could not even hold the header. */
  rxBadBuffers: number;
  /** Times the tx rate limiter refused a frame, so the transmit queue waited for tokens. */
  txThrottled: number;
  /** Times the rx rate limiter refused a frame, so it (and those after it) waited in the backlog. */
  rxThrottled: number;
}

export interface VirtioNetOptions {
  /** The interface's MAC address (6 bytes, unicast). */
  mac: Uint8Array;
  backend: NetBackend;
  /** For reports, e.g. "virtio-net eth0". */
  name?: string;
  /** When given, VIRTIO_NET_F_MTU is offered with this MTU (68..65535). */
  mtu?: number;
  /** Paces frames from the guest (bytes = the frame before any TSO segmentation, one operation each). */
  txLimiter?: IoLimiter;
  /** Paces frames delivered to the guest; frames waiting for it stay in the bounded backlog. */
  rxLimiter?: IoLimiter;
}

/** A virtio-net device's saved state (its MAC and backend are the machine description's). */
export interface NetState {
  version: 1;
  /** Frames waiting for rx buffers, oldest first, base64. */
  backlog: string[];
  rxHeadPaid: boolean;
  /** Rx chains held for a frame that needs several (the last the device took from its rx queue). */
  heldRx: number;
  /** A tx chain the limiter refused was held (the last taken from the tx queue). */
  txThrottled: boolean;
  linkUp: boolean;
  txWaiting: boolean;
  rxWaiting: boolean;
  txLimiter: LimiterState | null;
  rxLimiter: LimiterState | null;
}

export class VirtioNet implements VirtioDevice {
  readonly name: string;
  readonly deviceId = DeviceId.Net;
  readonly deviceFeatures: bigint;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly stats: NetStats = {
    rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0, rxBadBuffers: 0, txThrottled: 0, rxThrottled: 0,
  };
  readonly mac: Uint8Array;
  private readonly backend: NetBackend;
  private readonly mtu: number | undefined;
  /** mac[6] @0, status le16 @6, max_virtqueue_pairs le16 @8, mtu le16 @10 (5.1.4). */
  private readonly config = new ConfigSpace(12);
  private ctx!: VirtioContext;
  /** Frames received while the guest had no rx buffers, oldest first. */
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  /**
   * Rx chains taken from the available ring but not yet used: a frame that needs several merged buffers
   * waits here until enough are posted, since a split virtqueue cannot give a chain back.
   */
  private held: DescriptorChain[] = [];
  private linkUp = true;
  private txLimiter: IoLimiter | null;
  private rxLimiter: IoLimiter | null;
  /** A transmit chain the tx limiter refused: taken from the ring, sent first when the timer comes. */
  private txThrottledChain: DescriptorChain | null = null;
  /** When each direction may try its limiter again (clock ms); Infinity while it is not throttled. */
  private txResumeMs = Infinity;
  private rxResumeMs = Infinity;
  /** The backlog's first frame already got its tokens (it then waited for rx buffers): not charged twice. */
  private rxHeadPaid = false;

  constructor(opts: VirtioNetOptions) {
    if (!(opts.mac instanceof Uint8Array) || opts.mac.length !== 6) throw new RangeError('virtio-net: mac must be 6 bytes');
    if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535)) {
      throw new RangeError(`virtio-net: mtu ${opts.mtu} must be an integer from 68 to 65535`);
    }
    this.mac = opts.mac.slice();
    this.backend = opts.backend;
    this.mtu = opts.mtu;
    this.txLimiter = opts.txLimiter ?? null;
    this.rxLimiter = opts.rxLimiter ?? null;
    this.name = opts.name ?? 'virtio-net';
    this.deviceFeatures = NET_F_MAC | NET_F_STATUS | NET_F_CSUM | NET_F_HOST_TSO4 | NET_F_HOST_TSO6 | NET_F_MRG_RXBUF |
      (opts.mtu !== undefined ? NET_F_MTU : 0n);
    this.config.bytes.set(this.mac, 0);
    this.config.view.setUint16(6, NET_S_LINK_UP, true);
    this.config.view.setUint16(8, 1, true);
    this.config.view.setUint16(10, opts.mtu ?? 1500, true);
    this.backend.setReceiver((frame) => this.receive(frame));
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  /** 5.1.3.1: the TSO features depend on VIRTIO_NET_F_CSUM. */
  acceptFeatures(features: bigint): boolean {
    return (features & (NET_F_HOST_TSO4 | NET_F_HOST_TSO6)) === 0n || (features & NET_F_CSUM) !== 0n;
  }

  readConfig(offset: number, width: number): number {
    return this.config.read(offset, width);
  }

  /** The whole configuration space is read-only for a VERSION_1 driver (the mac is set by the device). */
  writeConfig(): void {}

  activate(): void {
    this.flushBacklog();
  }

  reset(): void {
    this.stats.rxDropped += this.backlog.length;
    this.dropBacklog();
    this.held = [];
    this.txThrottledChain = null;
    this.txResumeMs = this.rxResumeMs = Infinity;
  }

  private dropBacklog(): void {
    this.backlog = [];
    this.backlogBytes = 0;
    this.rxHeadPaid = false;
  }

  /**
   * Replaces the rate limiters of both directions (null = unlimited). Also call it after reconfiguring a
   * limiter in place: a throttled direction is then retried at once (through the timer, inside the machine's
   * run loop) rather than at the deadline the old limits gave.
   */
  setLimiters(tx: IoLimiter | null, rx: IoLimiter | null): void {
    this.txLimiter = tx;
    this.rxLimiter = rx;
    if (!this.ctx) return;
    const now = this.ctx.nowMs();
    if (this.txResumeMs !== Infinity) this.txResumeMs = now;
    if (this.rxResumeMs !== Infinity) this.rxResumeMs = now;
    this.armTimer();
  }

  /**
   * The frames waiting for rx buffers, the rx chains and the throttled tx chain it held (the last it took from
   * each queue: taken again at restore), the carrier, and its limiters' tokens. A throttled direction is
   * retried at once after a restore.
   */
  save(): NetState {
    const now = this.ctx.nowMs();
    return {
      version: 1,
      backlog: this.backlog.map(base64Text),
      rxHeadPaid: this.rxHeadPaid,
      heldRx: this.held.length,
      txThrottled: this.txThrottledChain !== null,
      linkUp: this.linkUp,
      txWaiting: this.txResumeMs !== Infinity,
      rxWaiting: this.rxResumeMs !== Infinity,
      txLimiter: this.txLimiter?.save?.(now) ?? null,
      rxLimiter: this.rxLimiter?.save?.(now) ?? null,
    };
  }

  restore(record: unknown): void {
    const r = new RecordReader(record, this.name, 1);
    const backlog = r.base64s('backlog', BACKLOG_FRAMES, BACKLOG_BYTES);
    const rxHeadPaid = r.bool('rxHeadPaid');
    const rxQueue = this.ctx.queue(0), txQueue = this.ctx.queue(1);
    const heldRx = r.uint('heldRx', rxQueue.size);
    const txThrottled = r.bool('txThrottled');
    const linkUp = r.bool('linkUp');
    const txWaiting = r.bool('txWaiting');
    const rxWaiting = r.bool('rxWaiting');
    const txLimiter = r.limiter('txLimiter');
    const rxLimiter = r.limiter('rxLimiter');
    const now = this.ctx.nowMs();
    this.reset();
    this.backlog = backlog;
    this.backlogBytes = backlog.reduce((n, f) => n + f.length, 0);
    this.rxHeadPaid = rxHeadPaid && backlog.length > 0;
    this.linkUp = linkUp;
    this.config.view.setUint16(6, linkUp ? NET_S_LINK_UP : 0, true);
    if (txLimiter) this.txLimiter?.restore?.(txLimiter, now);
    if (rxLimiter) this.rxLimiter?.restore?.(rxLimiter, now);
    rxQueue.rewind(heldRx);
    for (let i = 0; i < heldRx; i++) {
      const c = rxQueue.pop();
      if (!c) throw new SnapshotError(`snapshot: ${this.name} held rx buffers its queue does not have`);
      this.held.push(c);
    }
    if (txThrottled) {
      txQueue.rewind(1);
      this.txThrottledChain = txQueue.pop();
      if (!this.txThrottledChain) throw new SnapshotError(`snapshot: ${this.name} held a frame its tx queue does not have`);
    }
    if (txWaiting || txThrottled) this.txResumeMs = now;
    if (rxWaiting) this.rxResumeMs = now;
    this.armTimer();
  }

  /** The earlier of the two directions' retry times is the device's timer. */
  private armTimer(): void {
    this.ctx.setTimer(Math.min(this.txResumeMs, this.rxResumeMs));
  }

  timer(): void {
    const now = this.ctx.nowMs();
    if (this.txResumeMs <= now) {
      this.txResumeMs = Infinity;
      this.transmit();
    }
    if (this.rxResumeMs <= now) {
      this.rxResumeMs = Infinity;
      this.flushBacklog();
    }
    this.armTimer();
  }

  /**
   * Asks that direction's limiter for one frame of `bytes`; when refused, counts it, sets the direction's
   * retry time and arms the device timer for it.
   */
  private admit(dir: 'tx' | 'rx', bytes: number): boolean {
    const limiter = dir === 'tx' ? this.txLimiter : this.rxLimiter;
    if (!limiter) return true;
    const now = this.ctx.nowMs();
    if (limiter.consume(bytes, now)) return true;
    const at = now + Math.max(MIN_THROTTLE_MS, limiter.waitMs(bytes, now));
    if (dir === 'tx') {
      this.stats.txThrottled++;
      this.txResumeMs = at;
    } else {
      this.stats.rxThrottled++;
      this.rxResumeMs = at;
    }
    this.armTimer();
    return false;
  }

  /** Carrier on or off, as the guest sees it through config status (a configuration change interrupt). */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.config.view.setUint16(6, up ? NET_S_LINK_UP : 0, true);
    if (!up) {
      // queued frames are lost with the carrier; held rx chains stay ours until frames fill them
      this.stats.rxDropped += this.backlog.length;
      this.dropBacklog();
    }
    this.ctx?.configChanged();
  }

  /** Disconnects the backend (the device keeps working, with nothing on the wire). */
  close(): void {
    this.backend.close();
  }

  notify(index: number): void {
    if (index === TX_QUEUE) this.transmit();
    else if (index === RX_QUEUE) this.flushBacklog();
  }

  private get mergeable(): boolean {
    return (this.ctx.features & NET_F_MRG_RXBUF) !== 0n;
  }

  /** Largest frame the guest may receive: with VIRTIO_NET_F_MTU negotiated, mtu plus the link header. */
  private get rxLimit(): number {
    if (this.mtu !== undefined && (this.ctx.features & NET_F_MTU) !== 0n) return Math.min(MAX_FRAME, this.mtu + ETH_HLEN + VLAN_HLEN);
    return MAX_FRAME;
  }

  // ---- transmit (5.1.6.2) ----

  private transmit(): void {
    // a throttled queue waits for its timer; the chain it could not send stays first
    if (!this.ctx.active || this.txResumeMs !== Infinity) return;
    const q = this.ctx.queue(TX_QUEUE);
    let any = false;
    for (let c = this.txThrottledChain ?? q.pop(); c; c = q.pop()) {
      if (!this.admit('tx', Math.max(0, c.readableLength - NET_HDR_SIZE))) {
        this.txThrottledChain = c;
        break;
      }
      this.txThrottledChain = null;
      const frames = this.takeTxFrames(c);
      q.push(c.head, 0); // the device writes nothing into transmit buffers
      any = true;
      if (!frames || !this.linkUp) {
        this.stats.txDropped++;
        continue;
      }
      for (const frame of frames) {
        try {
          this.backend.send(frame);
          this.stats.txFrames++;
          this.stats.txBytes += frame.length;
        } catch {
          // NetBackend.send must not throw; if one does, the frame is lost, not the device
          this.stats.txDropped++;
        }
      }
    }
    if (any) this.ctx.usedBuffers(TX_QUEUE);
  }

  /**
   * The wire frames of one transmit chain: its frame with the checksum completed, or the segments of a TSO
   * frame; null when it must be dropped.
   */
  private takeTxFrames(c: DescriptorChain): Uint8Array[] | null {
    const len = c.readableLength - NET_HDR_SIZE;
    if (len < MIN_FRAME || len > MAX_FRAME) return null;
    const mem = this.ctx.mem;
    const hdr = gather(mem, c.readable, 0, NET_HDR_SIZE);
    const h = new DataView(hdr.buffer);
    const flags = h.getUint8(0);
    const gsoType = h.getUint8(1);
    const frame = gather(mem, c.readable, NET_HDR_SIZE, len);
    if (gsoType !== GSO_NONE) {
      // only what was negotiated; ECN and UDP offloads were never offered (5.1.6.2.2: drop, do not guess)
      const f = this.ctx.features;
      if (gsoType === GSO_TCPV4 && f & NET_F_HOST_TSO4) return segmentTcp(frame, 4, h.getUint16(4, true));
      if (gsoType === GSO_TCPV6 && f & NET_F_HOST_TSO6) return segmentTcp(frame, 6, h.getUint16(4, true));
      return null;
    }
    if (flags & HDR_F_NEEDS_CSUM) {
      if (!completeChecksum(frame, h.getUint16(6, true), h.getUint16(8, true))) return null;
    }
    return [frame];
  }

  // ---- receive (5.1.6.3, 5.1.6.4) ----

  /** A frame from the wire. Never throws into the backend. */
  private receive(frame: Uint8Array): void {
    if (!this.ctx?.active || !this.linkUp || frame.length < MIN_FRAME || frame.length > this.rxLimit) {
      this.stats.rxDropped++;
      return;
    }
    let paid = false;
    if (this.backlog.length === 0 && this.rxResumeMs === Infinity && this.admit('rx', frame.length)) {
      // fast path: straight into guest buffers when there are some
      const r = this.guard(1, () => this.deliver(frame));
      if (r !== 'wait') return;
      paid = true;
    }
    if (this.backlog.length >= BACKLOG_FRAMES || this.backlogBytes + frame.length > BACKLOG_BYTES) {
      this.stats.rxDropped++; // tail drop, as a NIC whose ring is full
      return;
    }
    // the backend may reuse its buffer once we return
    this.backlog.push(frame.slice());
    this.backlogBytes += frame.length;
    if (paid) this.rxHeadPaid = true; // the backlog was empty: this frame is its head
  }

  /** Delivers queued frames in order while the guest has buffers for them. */
  private flushBacklog(): void {
    // a throttled direction waits for its timer, whoever calls
    if (!this.ctx.active || this.backlog.length === 0 || this.rxResumeMs !== Infinity) return;
    this.guard(0, () => {
      while (this.backlog.length > 0) {
        const f = this.backlog[0];
        if (!this.rxHeadPaid) {
          if (!this.admit('rx', f.length)) break;
          this.rxHeadPaid = true;
        }
        if (this.deliver(f) === 'wait') break;
        this.backlog.shift();
        this.backlogBytes -= f.length;
        this.rxHeadPaid = false;
      }
      return 'done';
    });
  }

  /**
   * Runs a receive step outside the transport's own guard (frames arrive from the host, not from an MMIO
   * access): a guest protocol violation puts the device into DEVICE_NEEDS_RESET and drops what is queued
   * (plus `inFlight` frames not in the backlog).
   */
  private guard(inFlight: number, fn: () => 'done' | 'wait'): 'done' | 'wait' {
    try {
      return fn();
    } catch (e) {
      this.stats.rxDropped += this.backlog.length + inFlight;
      this.dropBacklog();
      this.held = [];
      if (e instanceof VirtqueueError) this.ctx.fail(e.message);
      else this.ctx.fail(`internal error in ${this.name} receive: ${(e as Error)?.stack ?? String(e)}`);
      return 'done';
    }
  }

  /**
   * Writes one frame into rx buffers: 'done' when it was delivered or dropped, 'wait' when the guest must
   * first post more buffers. Without MRG_RXBUF a frame must fit one chain (5.1.6.3.1); with it, chains are
   * filled in order and num_buffers in the first header says how many were used.
   */
  private deliver(frame: Uint8Array): 'done' | 'wait' {
    const q = this.ctx.queue(RX_QUEUE);
    const need = NET_HDR_SIZE + frame.length;
    const mergeable = this.mergeable;
    let capacity = 0;
    let n = 0; // chains of `held` this frame will use
    while (capacity < need) {
      if (n === this.held.length) {
        const c = q.pop();
        if (!c) break;
        if (c.writableLength < NET_HDR_SIZE) {
          // 5.1.6.3.1: every rx buffer must hold at least a header; give it back untouched
          q.push(c.head, 0);
          this.ctx.usedBuffers(RX_QUEUE);
          this.stats.rxBadBuffers++;
          continue;
        }
        this.held.push(c);
      }
      capacity += this.held[n].writableLength;
      n++;
      if (!mergeable) break;
    }
    if (capacity < need) {
      if (!mergeable && n === 1) {
        // the driver's buffer is too small for this frame; keep the buffer for smaller ones
        this.stats.rxDropped++;
        return 'done';
      }
      // every descriptor the driver has is already with us and still the frame does not fit: waiting
      // would stall the queue forever
      if (this.held.length >= q.size) {
        this.stats.rxDropped++;
        return 'done';
      }
      return 'wait';
    }
    const mem = this.ctx.mem;
    const hdr = new Uint8Array(NET_HDR_SIZE); // flags 0, GSO_NONE, no checksum information
    new DataView(hdr.buffer).setUint16(10, n, true); // num_buffers (1 without MRG_RXBUF)
    let off = 0; // bytes of the frame written so far
    for (let i = 0; i < n; i++) {
      const c = this.held[i];
      let written = 0;
      if (i === 0) written = scatter(mem, c.writable, 0, hdr);
      written += scatter(mem, c.writable, written, frame.subarray(off));
      off += written - (i === 0 ? NET_HDR_SIZE : 0);
      q.push(c.head, written);
    }
    this.held.splice(0, n);
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.ctx.usedBuffers(RX_QUEUE);
    return 'done';
  }
}

/**
 * TCP segmentation offload (5.1.6.2, gso_type TCPV4/TCPV6): cuts the payload of one large TCP packet into
 * segments of at most `mss` bytes, each with its own headers: sequence number advanced, FIN and PSH only on
 * the last, CWR only on the first; IPv4 total length, id (+1 per segment) and header checksum, or IPv6
 * payload length; and a full TCP checksum. The headers are parsed here rather than trusting hdr_len or
 * csum_start. Returns null for anything that is not a well-formed TCP packet of the announced version.
 */
export function segmentTcp(frame: Uint8Array, ipVersion: 4 | 6, mss: number): Uint8Array[] | null {
  const be16 = (o: number) => (frame[o] << 8) | frame[o + 1];
  let l3 = ETH_HLEN;
  let etherType = be16(12);
  if (etherType === 0x8100 || etherType === 0x88a8) {
    if (frame.length < l3 + VLAN_HLEN) return null;
    etherType = be16(16);
    l3 += VLAN_HLEN;
  }
  let l4: number;
  if (ipVersion === 4) {
    if (etherType !== 0x0800 || frame.length < l3 + 20 || frame[l3] >> 4 !== 4) return null;
    const ihl = (frame[l3] & 15) * 4;
    // a fragment cannot be segmented (and Linux never hands one over)
    if (ihl < 20 || frame[l3 + 9] !== 6 || (be16(l3 + 6) & 0x3fff) !== 0) return null;
    l4 = l3 + ihl;
  } else {
    // extension headers are not followed: Linux only offloads when TCP comes straight after
    if (etherType !== 0x86dd || frame.length < l3 + 40 || frame[l3] >> 4 !== 6 || frame[l3 + 6] !== 6) return null;
    l4 = l3 + 40;
  }
  if (frame.length < l4 + 20) return null;
  const doff = (frame[l4 + 12] >> 4) * 4;
  const hdrEnd = l4 + doff;
  if (doff < 20 || frame.length < hdrEnd) return null;
  const payload = frame.length - hdrEnd;
  if (mss === 0 || Math.ceil(payload / mss) > MAX_SEGMENTS) return null;
  const seq0 = ((frame[l4 + 4] << 24) | (frame[l4 + 5] << 16) | (frame[l4 + 6] << 8) | frame[l4 + 7]) >>> 0;
  const id0 = ipVersion === 4 ? be16(l3 + 4) : 0;
  const tcpFlags = frame[l4 + 13];
  const out: Uint8Array[] = [];
  let off = 0;
  do {
    const n = Math.min(mss, payload - off);
    const i = out.length;
    const last = off + n >= payload;
    const seg = new Uint8Array(hdrEnd + n);
    seg.set(frame.subarray(0, hdrEnd));
    seg.set(frame.subarray(hdrEnd + off, hdrEnd + off + n), hdrEnd);
    const put16 = (o: number, v: number) => {
      seg[o] = (v >>> 8) & 0xff;
      seg[o + 1] = v & 0xff;
    };
    const tcpLen = doff + n;
    if (ipVersion === 4) {
      put16(l3 + 2, l4 - l3 + tcpLen); // total length
      put16(l3 + 4, (id0 + i) & 0xffff);
      put16(l3 + 10, 0);
      put16(l3 + 10, ~onesComplementSum(seg, l3, l4) & 0xffff);
    } else {
      put16(l3 + 4, tcpLen); // payload length
    }
    const seq = (seq0 + off) >>> 0;
    put16(l4 + 4, seq >>> 16);
    put16(l4 + 6, seq & 0xffff);
    let fl = tcpFlags;
    if (!last) fl &= ~0x09; // FIN, PSH
    if (i > 0) fl &= ~0x80; // CWR
    seg[l4 + 13] = fl;
    // pseudo-header (RFC 793 / RFC 8200 8.1): addresses, protocol and TCP length, then the segment
    const addrs = ipVersion === 4 ? seg.subarray(l3 + 12, l3 + 20) : seg.subarray(l3 + 8, l3 + 40);
    put16(l4 + 16, 0);
    const pseudo = onesComplementSum(addrs, 0, addrs.length, 6 + tcpLen);
    const sum = onesComplementSum(seg, l4, seg.length, pseudo);
    put16(l4 + 16, ~sum & 0xffff || 0xffff);
    out.push(seg);
    off += n;
  } while (off < payload);
  return out;
}

/**
 * Completes a partial checksum (5.1.6.2): the driver left the pseudo-header sum in the checksum field; the
 * device stores the one's complement of the 16-bit one's complement sum of [start, end) at start + offset.
 * Returns false (leaving the frame alone) when the offsets do not lie inside the frame.
 */
export function completeChecksum(frame: Uint8Array, start: number, offset: number): boolean {
  const at = start + offset;
  if (start >= frame.length || at + 2 > frame.length) return false;
  const sum = onesComplementSum(frame, start, frame.length);
  const folded = ~sum & 0xffff;
  // a computed 0 is sent as 0xffff: equal in one's complement, and 0 means "no checksum" to UDP
  const v = folded === 0 ? 0xffff : folded;
  frame[at] = v >>> 8;
  frame[at + 1] = v & 0xff;
  return true;
}

/** The 16-bit one's complement sum (RFC 1071) of bytes [from, to), big-endian words, odd byte padded. */
export function onesComplementSum(bytes: Uint8Array, from: number, to: number, initial = 0): number {
  let sum = initial;
  let i = from;
  for (; i + 1 < to; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < to) sum += bytes[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

// ---- MAC addresses ----

/**
 * A stable, locally administered unicast MAC for `name` (e.g. "vm1/0"): 52 followed by 40 bits of an
 * FNV-1a 64-bit hash, so each VM keeps its address across restarts without configuration.
 */
export function macFromName(name: string): Uint8Array {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(name)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  const mac = new Uint8Array(6);
  mac[0] = 0x52; // bit 1 set: locally administered; bit 0 clear: unicast
  for (let i = 1; i < 6; i++) mac[i] = Number((h >> BigInt(8 * (i - 1))) & 0xffn);
  return mac;
}

/** Parses "52:54:00:12:34:56" (or with dashes) into 6 bytes; rejects malformed, all-zero and multicast. */
export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text.trim());
  if (!m) throw new Error(`invalid MAC address "${text}": expected six hex bytes like 52:54:00:12:34:56`);
  const mac = Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]], (x) => parseInt(x, 16));
  if (mac[0] & 1) {
    throw new Error(`MAC address ${text} is multicast (lowest bit of the first byte set); use a unicast address such as 52:54:00:12:34:56`);
  }
  if (mac.every((b) => b === 0)) throw new Error('MAC address 00:00:00:00:00:00 is not usable; use e.g. 52:54:00:12:34:56');
  return mac;
}

/** "52:54:00:12:34:56". */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
