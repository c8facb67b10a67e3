// A hostile guest driving one virtio device through the virtio-mmio transport and the mock driver: the fuzz
// input is a program of steps (well-formed chains, raw descriptors with any address, length, flags and next,
// indirect tables, ring indices, notifications, register and config writes, resets) interleaved with host
// events (frames, console input, balloon targets, the clock). The contract (src/core/virtio/mmio.ts): nothing
// the guest does throws out of the transport or makes a device fail with an internal error; guest mistakes end
// at most in DEVICE_NEEDS_RESET. Every step is bounded, so a hang is a defect too.
import { GuestRam } from '../../src/core/machine/memory.js';
import { F_RING_EVENT_IDX, F_RING_INDIRECT_DESC, F_VERSION_1, Reg, Status } from '../../src/core/virtio/constants.js';
import { VirtioMmio, type VirtioDevice, type VirtioEvent } from '../../src/core/virtio/mmio.js';
import { MockDriver, type MockBuffer } from '../../src/core/virtio/mock-driver.js';
import type { IoLimiter } from '../../src/core/virtio/limiter.js';
import { Bytes } from './bytes.js';

export const BASE = 0x8000_0000;
export const RAM_SIZE = 256 * 1024;

/** A token bucket the fuzzer sizes, so throttling and the device timers are exercised too. */
export function fuzzLimiter(b: Bytes): IoLimiter | undefined {
  if (!b.bool()) return undefined;
  const size = 1 + b.u16() * 4;
  const perMs = 1 + b.u8() * 16;
  let tokens = size;
  let last = 0;
  const refill = (now: number) => {
    tokens = Math.min(size, tokens + (now - last) * perMs);
    last = now;
  };
  return {
    consume(bytes, now) {
      refill(now);
      if (tokens < Math.min(bytes, size)) return false;
      tokens -= Math.min(bytes, size);
      return true;
    },
    waitMs(bytes, now) {
      refill(now);
      return Math.max(0, (Math.min(bytes, size) - tokens) / perMs);
    },
  };
}

export interface Guest {
  ram: GuestRam;
  dev: VirtioMmio;
  drv: MockDriver;
}

/** A device and what the host may do to it between guest steps. */
export interface DeviceUnderTest {
  device: VirtioDevice;
  /** One host-side event chosen by the input (may do nothing). */
  hostEvent?(b: Bytes, guest: Guest): void;
  /** Readable buffers a real driver would send on queue q (headers the device parses), from the input. */
  request?(b: Bytes, q: number): Uint8Array;
}

const ADDRS = (ram: GuestRam) => [BASE, BASE + RAM_SIZE - 16, BASE + RAM_SIZE, BASE - 16, 0, 2 ** 32 - 8, 2 ** 52, 2 ** 64 - 16, ram.base + 0x10000];
const LENS = [0, 1, 8, 16, 512, 4096, 0xffff, RAM_SIZE / 2, RAM_SIZE, 0x7fffffff, 0xffffffff];

function rawAddr(b: Bytes, ram: GuestRam): number {
  return b.bool() ? BASE + (b.u32() % (RAM_SIZE + 64)) : b.pick(ADDRS(ram));
}

function rawLen(b: Bytes): number {
  return b.bool() ? b.u16() % 8192 : b.pick(LENS);
}

function buffers(b: Bytes, dut: DeviceUnderTest, q: number): MockBuffer[] {
  const out: MockBuffer[] = [];
  if (dut.request && b.bool()) out.push({ data: dut.request(b, q) });
  const n = b.u8() % 5;
  for (let i = 0; i < n; i++) {
    if (b.bool()) out.push({ writable: b.u16() % 4200 });
    else out.push({ data: b.bytes(b.u8() % 64) });
  }
  return out;
}

/** Runs the program in `data` against the device `make` builds; throws on a defect. */
export function runGuest(data: Uint8Array, make: (b: Bytes, clock: { ns: number; nowNs(): number }, ram: GuestRam) => DeviceUnderTest): void {
  const b = new Bytes(data);
  const ram = new GuestRam(BASE, RAM_SIZE);
  const clock = { ns: 0, nowNs: () => clock.ns };
  const dut = make(b, clock, ram);
  const events: VirtioEvent[] = [];
  const dev = new VirtioMmio(dut.device, ram, { set: () => {} }, (e) => events.push(e), { clock });
  const drv = new MockDriver(dev, ram);
  const guest = { ram, dev, drv };
  const nq = dut.device.queueSizes.length;
  const featureChoice = b.u8();
  let features = drv.offeredFeatures();
  if (featureChoice & 1) features &= ~F_RING_INDIRECT_DESC;
  if (featureChoice & 2) features &= ~F_RING_EVENT_IDX;
  if (featureChoice & 4) features &= ~(BigInt(b.u32()) & 0xffffffn); // drop some device features
  const sizes = dut.device.queueSizes.map((max) => Math.min(max, 1 << (b.u8() % 9)));
  try {
    drv.init({ features: features | F_VERSION_1, queueSizes: sizes });
  } catch (e) {
    if (!/mock driver/.test((e as Error).message)) throw e;
  }
  // while the guest only builds chains through the driver, each used length must fit its chain's writable space
  // (the mock driver hands out descriptors round-robin: a chain that reuses descriptors still in flight is a
  // hostile guest too, so descriptors are counted per queue until their chain is seen in the used ring)
  let wellFormed = true;
  const inFlight = dut.device.queueSizes.map(() => new Map<number, number>());
  const busy = (q: number) => [...inFlight[q].values()].reduce((n, d) => n + d, 0);
  for (let step = 0; step < 200 && b.left > 0; step++) {
    const q = b.u8() % nq;
    const lay = drv.layout(q);
    switch (b.u8() % 15) {
      case 0:
      case 1:
      case 2: { // a well-formed chain, direct or indirect, then maybe a kick
        if (!lay) break;
        try {
          const bufs = buffers(b, dut, q);
          const indirect = b.bool();
          const need = indirect ? 1 : bufs.length;
          // an empty direct chain makes the driver publish descriptor 0 whatever it holds: hostile as well
          if (need === 0 || busy(q) + need > lay.size || inFlight[q].has(lay.nextDesc)) wellFormed = false;
          const head = drv.add(q, bufs, { indirect });
          if (need > 0) inFlight[q].set(head, need);
        } catch (e) {
          if (!/mock driver/.test((e as Error).message)) throw e; // out of driver heap or chain too long
          return;
        }
        if (b.bool()) drv.kick(q);
        break;
      }
      case 3: // a raw descriptor anywhere in the table (or an indirect table elsewhere)
        if (!lay) break;
        wellFormed = false;
        drv.writeDesc(q, b.u8() % lay.size, { addr: rawAddr(b, ram), len: rawLen(b), flags: b.u8() & 7, next: b.bool() ? b.u8() % lay.size : b.u16() });
        break;
      case 4:
        wellFormed = false;
        if (lay) drv.publish(q, b.bool() ? b.u8() % lay.size : b.u16());
        break;
      case 5:
        drv.kick(b.bool() ? q : b.u32());
        break;
      case 6:
        wellFormed = false;
        if (lay) drv.setAvailIdx(q, b.u16());
        break;
      case 7:
        if (lay) {
          drv.setUsedEvent(q, b.u16());
          drv.setAvailFlags(q, b.u16());
        }
        break;
      case 8:
        if (lay) {
          for (const u of drv.used(q)) {
            inFlight[q].delete(u.id);
            if (wellFormed && u.len > u.data.length) throw new Error(`queue ${q}: used length ${u.len} exceeds the chain's ${u.data.length} writable bytes`);
          }
        }
        drv.ackInterrupt();
        break;
      case 9: { // device configuration space at any offset and width
        const off = Reg.Config + (b.u8() % 72);
        const width = b.pick([1, 2, 4, 8, 3]);
        if (b.bool()) dev.read(off, width);
        else dev.write(off, width, width === 8 ? BigInt(b.u32()) : b.u32());
        break;
      }
      case 10: // any transport register, any value (queue addresses, sizes, status, selectors)
        wellFormed = false;
        dev.write(b.u8() * 4, 4, b.u32());
        dev.read(b.u8() * 4, b.pick([1, 2, 4, 8]));
        break;
      case 11: // reset and renegotiate (chains in flight are forgotten by the device, not by the driver)
        wellFormed = false;
        drv.setReg(Reg.Status, 0);
        try {
          drv.init({ features: features | F_VERSION_1, queueSizes: sizes });
        } catch (e) {
          if (!/mock driver/.test((e as Error).message)) throw e;
          return;
        }
        break;
      case 12:
        dut.hostEvent?.(b, guest);
        break;
      case 14: { // an indirect table of raw descriptors (up to 64; many may cover all of RAM), published and kicked
        if (!lay) break;
        wellFormed = false;
        const k = 1 + (b.u8() % 64);
        let table: number;
        try {
          table = drv.alloc(16 * k, 16);
        } catch (e) {
          if (!/mock driver/.test((e as Error).message)) throw e;
          return;
        }
        const whole = b.bool();
        for (let i = 0; i < k; i++) {
          const d = whole ? { addr: BASE, len: RAM_SIZE, flags: b.u8() & 3, next: i + 1 } : { addr: rawAddr(b, ram), len: rawLen(b), flags: b.u8() & 7, next: b.u8() % (k + 2) };
          if (whole && i === k - 1) d.flags &= ~1;
          drv.writeDesc(q, i, d, table);
        }
        const head = b.u8() % lay.size;
        drv.writeDesc(q, head, { addr: table, len: b.u8() % 8 === 0 ? rawLen(b) : 16 * k, flags: 4, next: 0 });
        drv.publish(q, head);
        drv.kick(q);
        break;
      }
      case 13: // time passes: throttled queues resume
        clock.ns += b.u16() * 10_000;
        dev.pollTimer();
        break;
    }
    const internal = events.find((e) => e.internal);
    if (internal) throw new Error(`${internal.device}: internal error on guest input: ${internal.reason}`);
  }
  if (dev.read(Reg.Status, 4) === Status.DEVICE_NEEDS_RESET && events.length === 0) throw new Error('DEVICE_NEEDS_RESET without a reason');
}
