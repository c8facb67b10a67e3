// The virtio-mmio transport, version 2 (virtio 1.2 section 4.2): registers, feature negotiation, device
// status and reset, queue setup, notifications and the interrupt line. Devices plug in through VirtioDevice;
// a device that throws (guest protocol violation or internal error) is put into DEVICE_NEEDS_RESET and
// reported, never taking the VM or the host down.
import type { Device, IrqLine } from '../devices/bus.js';
import type { GuestMemory } from '../machine/memory.js';
import {
  F_RING_EVENT_IDX, F_RING_INDIRECT_DESC, F_VERSION_1, Irq, MMIO_MAGIC, Reg, Status, VIRTIO_MMIO_VENDOR_ID,
} from './constants.js';
import { Virtqueue, VirtqueueError, type QueueState } from './queue.js';
import { RecordReader, SnapshotError, u64Text } from '../snapshot/state.js';
import { monotonicClock, type Clock } from '../host/clock.js';

/** What a device can do with its transport. */
export interface VirtioContext {
  readonly mem: GuestMemory;
  /** Features both sides agreed on (valid once FEATURES_OK is set). */
  readonly features: bigint;
  /** True between DRIVER_OK and the next reset, while the device is not in DEVICE_NEEDS_RESET. */
  readonly active: boolean;
  queue(index: number): Virtqueue;
  /** Call after pushing used buffers on a queue: interrupts the driver if it asked for it. */
  usedBuffers(index: number): void;
  /** The device changed its configuration space: bumps ConfigGeneration and interrupts the driver. */
  configChanged(): void;
  /** Puts the device into DEVICE_NEEDS_RESET with a reason (reported to the VM). */
  fail(reason: string): void;
  /** The VM's monotonic clock in milliseconds (fractional); devices never read host time themselves. */
  nowMs(): number;
  /**
   * Asks for the device's timer() once nowMs() reaches `atMs`, replacing any earlier request (Infinity
   * cancels). One timer per device; the machine counts it in its idle deadline, so a guest that waits in WFI
   * for a throttled request is woken when the device can go on. Reset cancels it.
   */
  setTimer(atMs: number): void;
}

/** A virtio device type (block, net, …) behind the transport. */
export interface VirtioDevice {
  /** Short name for reports, e.g. "virtio-blk vda". */
  readonly name: string;
  readonly deviceId: number;
  /** Device-type feature bits; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX. */
  readonly deviceFeatures: bigint;
  /** Largest size of each virtqueue, in queue order. */
  readonly queueSizes: readonly number[];
  /** Called once by the transport before anything else. */
  attach(ctx: VirtioContext): void;
  /** The device-specific configuration space (little-endian), read by the driver at any width. */
  readConfig(offset: number, width: number): number;
  writeConfig(offset: number, width: number, value: number): void;
  /**
   * True when the device works the same for a driver that does not accept VERSION_1 (one written for legacy
   * devices that programs the modern registers but writes only the low 32 feature bits, as xv6's disk driver
   * does). Spec 6.2 lets a device refuse such a driver ("MAY fail to operate further"); QEMU accepts it. A
   * device says true only when nothing it does depends on VERSION_1 on this little-endian machine (its
   * requests and configuration keep one layout). Absent: FEATURES_OK without VERSION_1 is refused.
   */
  readonly acceptsPreVersion1?: boolean;
  /** Features the driver accepted at FEATURES_OK; return false to refuse the combination. */
  acceptFeatures?(features: bigint): boolean;
  /** DRIVER_OK was set: the device may start using its queues. */
  activate(): void;
  /** The driver notified queue `index` (QueueNotify). */
  notify(index: number): void;
  /** Back to the initial state (status written 0, or machine reset). */
  reset(): void;
  /** The deadline the device gave VirtioContext.setTimer has passed (called once per setTimer). */
  timer?(): void;
  /** The device's own state (its configuration, work in flight), as a plain-data record; absent: it has none. */
  save?(): unknown;
  /** Takes what save() returned (checked: a bad record throws SnapshotError); called after the queues are back. */
  restore?(record: unknown): void;
}

/** A virtio-mmio transport's saved state, with its queues' and its device's. */
export interface VirtioMmioState {
  version: 1;
  deviceId: number;
  status: number;
  features: string;
  driverFeatures: string;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  queues: QueueState[];
  device: unknown;
}

/** What the transport needs from the machine for device timers. */
export interface VirtioTimerHost {
  /** The VM's clock; nowMs() reads it. */
  readonly clock: Clock;
  /** A device asked for a timer earlier than the one it had: an idle machine recomputes how long it sleeps. */
  timerArmed?(): void;
}

export type VirtioEvent = { kind: 'needs-reset'; device: string; reason: string; internal: boolean };

const TRANSPORT_FEATURES = F_VERSION_1 | F_RING_INDIRECT_DESC | F_RING_EVENT_IDX;

export class VirtioMmio implements Device, VirtioContext {
  features = 0n;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private readonly queues: Virtqueue[];
  private readonly offered: bigint;
  /** The device's timer deadline in clock ms; Infinity when none is armed. */
  private timerAtMs = Infinity;

  constructor(
    readonly device: VirtioDevice,
    readonly mem: GuestMemory,
    private readonly irq: IrqLine,
    /** Reports device failures to the VM manager (which decides what to do). */
    private readonly onEvent: (e: VirtioEvent) => void = () => {},
    /** The machine's clock and timer hook; by default the host's monotonic clock and no hook (tests). */
    private readonly timers: VirtioTimerHost = { clock: monotonicClock() },
  ) {
    this.queues = device.queueSizes.map((n) => new Virtqueue(mem, n));
    this.offered = device.deviceFeatures | TRANSPORT_FEATURES;
    device.attach(this);
  }

  get active(): boolean {
    return (this.status & (Status.DRIVER_OK | Status.DEVICE_NEEDS_RESET | Status.FAILED)) === Status.DRIVER_OK;
  }

  queue(index: number): Virtqueue {
    return this.queues[index];
  }

  usedBuffers(index: number): void {
    if (this.queues[index].needsInterrupt()) this.raise(Irq.USED_BUFFER);
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & Status.DRIVER_OK) this.raise(Irq.CONFIG_CHANGE);
  }

  fail(reason: string, internal = false): void {
    if (this.status & Status.DEVICE_NEEDS_RESET) return;
    this.status |= Status.DEVICE_NEEDS_RESET;
    for (const q of this.queues) q.ready = false;
    this.onEvent({ kind: 'needs-reset', device: this.device.name, reason, internal });
    // 2.1.2: after setting DEVICE_NEEDS_RESET with DRIVER_OK set, send a configuration change notification
    if (this.status & Status.DRIVER_OK) this.raise(Irq.CONFIG_CHANGE);
  }

  nowMs(): number {
    return this.timers.clock.nowNs() / 1e6;
  }

  setTimer(atMs: number): void {
    const earlier = atMs < this.timerAtMs;
    this.timerAtMs = atMs;
    if (earlier) this.timers.timerArmed?.();
  }

  /** When the device's timer is due, on the clock's nanosecond scale (Infinity: none armed). */
  get timerDeadlineNs(): number {
    return this.timerAtMs * 1e6;
  }

  /**
   * Calls the device's timer() if its deadline has passed; the machine's run loop calls this often. One ns of
   * slack: a deadline that went through ns and back to ms may have lost its last bit.
   */
  pollTimer(): void {
    if (this.timerAtMs === Infinity || this.nowMs() < this.timerAtMs - 1e-6) return;
    this.timerAtMs = Infinity;
    this.guarded('timer', () => this.device.timer?.());
  }

  /** The transport's registers, each queue's state, and the device's own (VirtioDevice.save). */
  save(): VirtioMmioState {
    return {
      version: 1,
      deviceId: this.device.deviceId,
      status: this.status,
      features: u64Text(this.features),
      driverFeatures: u64Text(this.driverFeatures),
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.save()),
      device: this.device.save?.() ?? null,
    };
  }

  /**
   * Takes a saved state of a transport of the same device type and queues. A record of the wrong shape is
   * refused before anything changes; one whose rings do not fit this queue or RAM (mapped again here), or
   * whose device part the device refuses, leaves the transport reset. The interrupt line follows the restored
   * status; a device timer is the device's to arm again.
   */
  restore(record: unknown): void {
    const where = `virtio ${this.device.name}`;
    const r = new RecordReader(record, where, 1);
    const deviceId = r.uint('deviceId', 0xffffffff);
    if (deviceId !== this.device.deviceId) throw new SnapshotError(`snapshot: ${where} holds the state of device type ${deviceId}, not ${this.device.deviceId}`);
    const u32 = 0xffffffff;
    const regs = {
      status: r.uint('status', 0xff),
      features: r.u64('features'),
      driverFeatures: r.u64('driverFeatures'),
      deviceFeaturesSel: r.uint('deviceFeaturesSel', u32),
      driverFeaturesSel: r.uint('driverFeaturesSel', u32),
      queueSel: r.uint('queueSel', u32),
      interruptStatus: r.uint('interruptStatus', Irq.USED_BUFFER | Irq.CONFIG_CHANGE),
      configGeneration: r.uint('configGeneration', u32),
    };
    if ((regs.features & ~this.offered) !== 0n) throw new SnapshotError(`snapshot: ${where}.features holds bits this device does not offer`);
    const queues = r.records('queues', this.queues.length).map((q, i) => readQueue(q, `${where}.queues[${i}]`, this.queues[i].maxSize));
    const device = r.raw('device');
    this.reset();
    try {
      queues.forEach((q, i) => this.queues[i].restore(q));
      this.device.restore?.(device);
    } catch (e) {
      this.reset();
      if (e instanceof VirtqueueError) throw new SnapshotError(`snapshot: ${where}: ${e.message}`);
      throw e;
    }
    this.status = regs.status;
    this.features = regs.features;
    this.driverFeatures = regs.driverFeatures;
    this.deviceFeaturesSel = regs.deviceFeaturesSel;
    this.driverFeaturesSel = regs.driverFeaturesSel;
    this.queueSel = regs.queueSel;
    this.interruptStatus = regs.interruptStatus;
    this.configGeneration = regs.configGeneration;
    this.irq.set(this.interruptStatus !== 0);
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.irq.set(true);
  }

  /** Runs a device callback; whatever it throws puts the device (only) into DEVICE_NEEDS_RESET. */
  private guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof VirtqueueError) this.fail(e.message);
      else this.fail(`internal error in ${what}: ${(e as Error)?.stack ?? String(e)}`, true);
    }
  }

  reset(): void {
    this.status = 0;
    this.features = 0n;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.interruptStatus = 0;
    this.timerAtMs = Infinity;
    this.irq.set(false);
    for (const q of this.queues) q.reset();
    this.guarded('reset', () => this.device.reset());
  }

  read(offset: number, width: number): number | bigint {
    if (offset >= Reg.Config) {
      const o = offset - Reg.Config;
      if (width === 8) {
        const lo = this.device.readConfig(o, 4) >>> 0;
        const hi = this.device.readConfig(o + 4, 4) >>> 0;
        return (BigInt(hi) << 32n) | BigInt(lo);
      }
      return this.device.readConfig(o, width) >>> 0;
    }
    if (width !== 4) return width === 8 ? 0n : 0; // registers are 32-bit only (4.2.2.2)
    const q = this.queues[this.queueSel];
    switch (offset) {
      case Reg.MagicValue: return MMIO_MAGIC;
      case Reg.Version: return 2;
      case Reg.DeviceID: return this.device.deviceId;
      case Reg.VendorID: return VIRTIO_MMIO_VENDOR_ID;
      case Reg.DeviceFeatures:
        return this.deviceFeaturesSel < 2 ? Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn) : 0;
      case Reg.QueueNumMax: return q ? q.maxSize : 0;
      case Reg.QueueNum: return q ? q.size : 0;
      case Reg.QueueReady: return q?.ready ? 1 : 0;
      case Reg.InterruptStatus: return this.interruptStatus;
      case Reg.Status: return this.status;
      case Reg.QueueDescLow: return q ? q.descAddr >>> 0 : 0;
      case Reg.QueueDescHigh: return q ? Math.floor(q.descAddr / 2 ** 32) : 0;
      case Reg.QueueDriverLow: return q ? q.driverAddr >>> 0 : 0;
      case Reg.QueueDriverHigh: return q ? Math.floor(q.driverAddr / 2 ** 32) : 0;
      case Reg.QueueDeviceLow: return q ? q.deviceAddr >>> 0 : 0;
      case Reg.QueueDeviceHigh: return q ? Math.floor(q.deviceAddr / 2 ** 32) : 0;
      case Reg.SHMLenLow:
      case Reg.SHMLenHigh:
      case Reg.SHMBaseLow:
      case Reg.SHMBaseHigh:
        return 0xffffffff; // no shared memory regions
      case Reg.ConfigGeneration: return this.configGeneration;
      default: return 0;
    }
  }

  write(offset: number, width: number, value: number | bigint): void {
    if (offset >= Reg.Config) {
      const o = offset - Reg.Config;
      if (width === 8) {
        const v = BigInt(value);
        this.guarded('config write', () => {
          this.device.writeConfig(o, 4, Number(v & 0xffffffffn));
          this.device.writeConfig(o + 4, 4, Number((v >> 32n) & 0xffffffffn));
        });
      } else {
        this.guarded('config write', () => this.device.writeConfig(o, width, Number(value) >>> 0));
      }
      return;
    }
    if (width !== 4) return;
    const v = Number(value) >>> 0;
    const q = this.queues[this.queueSel];
    const half = (addr: number, high: boolean) => (high ? (addr >>> 0) + v * 2 ** 32 : Math.floor(addr / 2 ** 32) * 2 ** 32 + v);
    switch (offset) {
      case Reg.DeviceFeaturesSel: this.deviceFeaturesSel = v; break;
      case Reg.DriverFeaturesSel: this.driverFeaturesSel = v; break;
      case Reg.DriverFeatures:
        if (this.driverFeaturesSel < 2 && !(this.status & Status.FEATURES_OK)) {
          const shift = BigInt(32 * this.driverFeaturesSel);
          this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(v) << shift);
        }
        break;
      case Reg.QueueSel: this.queueSel = v; break;
      case Reg.QueueNum: if (q && !q.ready) q.size = v; break;
      case Reg.QueueDescLow: if (q && !q.ready) q.descAddr = half(q.descAddr, false); break;
      case Reg.QueueDescHigh: if (q && !q.ready) q.descAddr = half(q.descAddr, true); break;
      case Reg.QueueDriverLow: if (q && !q.ready) q.driverAddr = half(q.driverAddr, false); break;
      case Reg.QueueDriverHigh: if (q && !q.ready) q.driverAddr = half(q.driverAddr, true); break;
      case Reg.QueueDeviceLow: if (q && !q.ready) q.deviceAddr = half(q.deviceAddr, false); break;
      case Reg.QueueDeviceHigh: if (q && !q.ready) q.deviceAddr = half(q.deviceAddr, true); break;
      case Reg.QueueReady:
        if (!q) break;
        if (v === 0) {
          q.ready = false;
        } else if (!q.ready && !(this.status & Status.DEVICE_NEEDS_RESET)) {
          q.indirect = (this.features & F_RING_INDIRECT_DESC) !== 0n;
          q.eventIdx = (this.features & F_RING_EVENT_IDX) !== 0n;
          this.guarded('queue setup', () => q.enable());
        }
        break;
      case Reg.QueueNotify:
        if (this.active && v < this.queues.length && this.queues[v].ready) this.guarded(`queue ${v}`, () => this.device.notify(v));
        break;
      case Reg.InterruptACK:
        this.interruptStatus &= ~v;
        if (this.interruptStatus === 0) this.irq.set(false);
        break;
      case Reg.Status: this.writeStatus(v & 0xff); break;
      default: break; // read-only or unknown registers ignore writes
    }
  }

  private writeStatus(v: number): void {
    if (v === 0) {
      this.reset();
      return;
    }
    const was = this.status;
    // DEVICE_NEEDS_RESET is the device's to set (2.1.1): a driver writing it is ignored, not believed
    let next = (v & ~Status.DEVICE_NEEDS_RESET) | (was & Status.DEVICE_NEEDS_RESET);
    if (next & Status.FEATURES_OK && !(was & Status.FEATURES_OK)) {
      const f = this.driverFeatures;
      let ok = (f & ~this.offered) === 0n && ((f & F_VERSION_1) !== 0n || this.device.acceptsPreVersion1 === true);
      if (ok && this.device.acceptFeatures) ok = this.device.acceptFeatures(f);
      if (ok) this.features = f;
      else next &= ~Status.FEATURES_OK; // 3.1.1: the driver re-reads status and sees the refusal
    }
    if (next & Status.DRIVER_OK && !(next & Status.FEATURES_OK)) next &= ~Status.DRIVER_OK;
    this.status = next;
    if (next & Status.DRIVER_OK && !(was & Status.DRIVER_OK) && this.active) {
      this.guarded('activation', () => this.device.activate());
    }
  }
}

/** A little-endian configuration space backed by bytes, for devices to read and write at any width. */
export class ConfigSpace {
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  read(offset: number, width: number): number {
    if (offset < 0 || offset + width > this.bytes.length) return 0;
    if (width === 1) return this.view.getUint8(offset);
    if (width === 2) return this.view.getUint16(offset, true);
    if (width === 4) return this.view.getUint32(offset, true);
    return 0;
  }

  /** Writes only the bytes in [offset, offset+width) that lie inside the space. */
  write(offset: number, width: number, value: number): void {
    for (let i = 0; i < width; i++) {
      const o = offset + i;
      if (o >= 0 && o < this.bytes.length) this.bytes[o] = (value >>> (8 * i)) & 0xff;
    }
  }
}

/** Reads one queue's state from a transport record. */
function readQueue(record: unknown, where: string, maxSize: number): QueueState {
  const r = new RecordReader(record, where, undefined);
  const addr = 2 ** 53 - 1;
  return {
    size: r.uint('size', maxSize),
    desc: r.uint('desc', addr),
    driver: r.uint('driver', addr),
    device: r.uint('device', addr),
    ready: r.bool('ready'),
    indirect: r.bool('indirect'),
    eventIdx: r.bool('eventIdx'),
    lastAvail: r.uint('lastAvail', 0xffff),
    usedIdx: r.uint('usedIdx', 0xffff),
    signalled: r.uint('signalled', 0xffff),
  };
}
