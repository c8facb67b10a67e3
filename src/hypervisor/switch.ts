// An in-process learning Ethernet switch (IEEE 802.1D transparent bridging, without spanning tree): each
// port is a NetBackend for one VM's virtio-net; frames go to the port that last sent from their destination.
import { ETH_HLEN, MAX_FRAME, type NetBackend } from '../core/virtio/net/backend.js';

/** Frames waiting for delivery on one egress port; beyond this the port is congested and frames drop. */
const PORT_QUEUE_FRAMES = 1024;
/** Learned addresses kept; the oldest entry goes when full, so random source MACs cannot grow the table. */
const MAC_TABLE_SIZE = 4096;

export interface SwitchPortStats {
  /** Frames and bytes the port's VM sent into the switch. */
  framesIn: number;
  bytesIn: number;
  /** Frames and bytes the switch handed to the port's VM. */
  framesOut: number;
  bytesOut: number;
  /** Frames lost at this port: malformed on ingress, or egress queue full / no receiver / port closed. */
  drops: number;
}

/** One switch port: the NetBackend a VM's virtio-net is given. */
export class SwitchPort implements NetBackend {
  readonly stats: SwitchPortStats = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, drops: 0 };
  /** @internal frames waiting for the next delivery pass */
  queue: Uint8Array[] = [];
  /** @internal */
  scheduled = false;
  /** @internal */
  receiver: ((frame: Uint8Array) => void) | null = null;
  private open = true;

  /** @internal created by VirtualSwitch.port() */
  constructor(
    private readonly sw: VirtualSwitch,
    readonly name: string,
  ) {}

  get closed(): boolean {
    return !this.open;
  }

  send(frame: Uint8Array): void {
    if (!this.open) {
      this.stats.drops++;
      return;
    }
    this.sw.forward(this, frame);
  }

  setReceiver(receive: (frame: Uint8Array) => void): void {
    this.receiver = receive;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.stats.drops += this.queue.length;
    this.queue = [];
    this.receiver = null;
    this.sw.detach(this);
  }
}

/**
 * Delivery is asynchronous: forward() only queues the frame on each egress port and schedules one microtask
 * per port to hand the queue over. So a VM's transmit (an MMIO write on its vCPU) never runs another VM's
 * device code on its own stack, a receiver that answers at once cannot recurse without bound, and the
 * per-port queue bounds what a fast sender can pile up on a slow receiver. A microtask rather than a timer
 * keeps latency at "end of the current job" without waiting for the event loop.
 */
export class VirtualSwitch {
  private readonly ports = new Set<SwitchPort>();
  /** Destination MAC (as a 48-bit number) to the port it was last seen on as a source. */
  private readonly table = new Map<number, SwitchPort>();
  private counter = 0;

  /** Creates a port; `name` is for stats and reports (default "portN"). */
  port(name?: string): SwitchPort {
    const p = new SwitchPort(this, name ?? `port${this.counter}`);
    this.counter++;
    this.ports.add(p);
    return p;
  }

  /** Per-port counters, in creation order. */
  stats(): { name: string; stats: SwitchPortStats }[] {
    return [...this.ports].map((p) => ({ name: p.name, stats: { ...p.stats } }));
  }

  /** The port a unicast MAC was learned on, if any (for tests and diagnostics). */
  lookup(mac: Uint8Array): SwitchPort | undefined {
    return this.table.get(macKey(mac, 0));
  }

  /** Closes every port. */
  close(): void {
    for (const p of [...this.ports]) p.close();
  }

  /** @internal SwitchPort.send */
  forward(ingress: SwitchPort, frame: Uint8Array): void {
    if (frame.length < ETH_HLEN || frame.length > MAX_FRAME) {
      ingress.stats.drops++;
      return;
    }
    ingress.stats.framesIn++;
    ingress.stats.bytesIn += frame.length;
    // one private copy, shared read-only by every egress port: the sender may reuse its buffer
    const copy = frame.slice();
    const src = macKey(copy, 6);
    if (!(copy[6] & 1)) this.learn(src, ingress); // a multicast source is bogus: never learn it
    if (!(copy[0] & 1)) {
      const out = this.table.get(macKey(copy, 0));
      if (out) {
        // known unicast: to its port, or filtered when it lives on the ingress port
        if (out !== ingress) this.enqueue(out, copy);
        return;
      }
    }
    // broadcast, multicast or unknown unicast: flood to every other port
    for (const p of this.ports) if (p !== ingress) this.enqueue(p, copy);
  }

  /** @internal SwitchPort.close: the port leaves and every address learned on it is forgotten. */
  detach(port: SwitchPort): void {
    this.ports.delete(port);
    for (const [mac, p] of this.table) if (p === port) this.table.delete(mac);
  }

  private learn(mac: number, port: SwitchPort): void {
    const had = this.table.get(mac);
    if (had === port) return;
    // delete before set so Map order is "least recently moved first", the eviction order
    if (had) this.table.delete(mac);
    else if (this.table.size >= MAC_TABLE_SIZE) this.table.delete(this.table.keys().next().value!);
    this.table.set(mac, port);
  }

  private enqueue(port: SwitchPort, frame: Uint8Array): void {
    if (port.queue.length >= PORT_QUEUE_FRAMES) {
      port.stats.drops++;
      return;
    }
    port.queue.push(frame);
    if (!port.scheduled) {
      port.scheduled = true;
      queueMicrotask(() => this.deliver(port));
    }
  }

  private deliver(port: SwitchPort): void {
    port.scheduled = false;
    const frames = port.queue;
    port.queue = [];
    for (const f of frames) {
      const receive = port.receiver;
      if (port.closed || !receive) {
        port.stats.drops++;
        continue;
      }
      port.stats.framesOut++;
      port.stats.bytesOut += f.length;
      try {
        receive(f);
      } catch {
        // a receiver must not throw; if one does, that frame is lost, not the switch
        port.stats.drops++;
        port.stats.framesOut--;
        port.stats.bytesOut -= f.length;
      }
    }
  }
}

/** A MAC address at `offset` as a number (48 bits fit a double exactly). */
function macKey(b: Uint8Array, offset: number): number {
  const hi = (b[offset] << 8) | b[offset + 1];
  const lo = ((b[offset + 2] << 24) | (b[offset + 3] << 16) | (b[offset + 4] << 8) | b[offset + 5]) >>> 0;
  return hi * 2 ** 32 + lo;
}
