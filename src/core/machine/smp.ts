// Harts of one VM in different threads (multi-vCPU VMs whose vCPUs run in parallel on different host CPUs).
//
// The VM's first thread (the "device thread") holds the devices, the PLIC and hart 0; every other hart runs in
// a thread of its own on the same shared guest RAM. What crosses threads goes through one SmpLink, a small
// shared Int32Array:
// - MMIO: a hart thread puts a device access in its mailbox, rings the doorbell and waits (Atomics.wait); the
//   device thread serves mailboxes between instruction chunks of hart 0, or from its event loop when hart 0
//   is not running (Atomics.waitAsync on the doorbell).
// - Interrupts: the PLIC's lines for a remote hart's contexts are a level word the hart reads at every chunk
//   boundary; an IPI (SBI send_ipi) sets a pending word that the target turns into SSIP.
// - SBI HSM state lives in the link, so any hart can start, stop and query any other; remote fences (SBI
//   RFENCE) set request bits that the target serves before its next instructions, and the caller waits for
//   running targets (a stale TLB entry after sfence.vma returned could reach a freed page).
// Waking a vCPU that is parked (WFI, stopped) is the scheduler's business: the `wake` callbacks say which.

/** Int32 slots per hart in the link. */
const STRIDE = 16;
const HEADER = 8;
const DOORBELL = 0;

// per-hart slots
const IPI = 0;
const LINES = 1;
const FENCE = 2;
const HSM = 3;
const START = 4; // pc lo, pc hi, opaque lo, opaque hi
const MB_STATE = 8;
const MB_OP = 9;
const MB_ADDR = 10; // lo, hi
const MB_VALUE = 12; // lo, hi
const MB_FAULT = 14;
const RUNNING = 15;

/** Remote fence kinds (bits). */
export const FENCE_VMA = 1;
export const FENCE_I = 2;

const MB_IDLE = 0;
const MB_REQUEST = 1;
const MB_DONE = 2;

const TWO32 = 4294967296;

/** The shared control block of one multi-threaded VM. */
export class SmpLink {
  readonly i32: Int32Array;

  constructor(readonly harts: number, buffer?: SharedArrayBuffer) {
    const bytes = (HEADER + harts * STRIDE) * 4;
    this.i32 = new Int32Array(buffer ?? new SharedArrayBuffer(bytes));
    if (this.i32.length < HEADER + harts * STRIDE) throw new RangeError('the SMP link buffer is too small for its harts');
  }

  get buffer(): SharedArrayBuffer {
    return this.i32.buffer as SharedArrayBuffer;
  }

  private at(hart: number, slot: number): number {
    return HEADER + hart * STRIDE + slot;
  }

  // ---- HSM state (SBI hart states) ----

  hsmState(hart: number): number {
    return Atomics.load(this.i32, this.at(hart, HSM));
  }

  setHsmState(hart: number, state: number): void {
    Atomics.store(this.i32, this.at(hart, HSM), state);
  }

  /** Moves `hart` from `from` to `to` if it is in `from`; false when another thread got there first. */
  casHsmState(hart: number, from: number, to: number): boolean {
    return Atomics.compareExchange(this.i32, this.at(hart, HSM), from, to) === from;
  }

  setStart(hart: number, pcLo: number, pcHi: number, opaqueLo: number, opaqueHi: number): void {
    const i = this.at(hart, START);
    Atomics.store(this.i32, i, pcLo);
    Atomics.store(this.i32, i + 1, pcHi);
    Atomics.store(this.i32, i + 2, opaqueLo);
    Atomics.store(this.i32, i + 3, opaqueHi);
  }

  start(hart: number): [number, number, number, number] {
    const i = this.at(hart, START);
    return [Atomics.load(this.i32, i), Atomics.load(this.i32, i + 1), Atomics.load(this.i32, i + 2), Atomics.load(this.i32, i + 3)];
  }

  // ---- interrupts ----

  raiseIpi(hart: number): void {
    Atomics.store(this.i32, this.at(hart, IPI), 1);
  }

  /** True (once) when an IPI arrived since the last call. */
  takeIpi(hart: number): boolean {
    return Atomics.exchange(this.i32, this.at(hart, IPI), 0) !== 0;
  }

  ipiPending(hart: number): boolean {
    return Atomics.load(this.i32, this.at(hart, IPI)) !== 0;
  }

  /** The PLIC's level lines (MEIP/SEIP bits) into a remote hart. */
  setLines(hart: number, bits: number): void {
    Atomics.store(this.i32, this.at(hart, LINES), bits);
  }

  lines(hart: number): number {
    return Atomics.load(this.i32, this.at(hart, LINES));
  }

  // ---- remote fences ----

  requestFence(hart: number, kind: number): void {
    Atomics.or(this.i32, this.at(hart, FENCE), kind);
  }

  /** The fence kinds requested of `hart` since the last call (and clears them; wakes waiting requesters). */
  takeFences(hart: number): number {
    const i = this.at(hart, FENCE);
    const k = Atomics.exchange(this.i32, i, 0);
    if (k !== 0) Atomics.notify(this.i32, i);
    return k;
  }

  /**
   * Waits until `hart` served the fences asked of it, or is not running (it serves them before it runs
   * again). `serveOwn` keeps the waiting hart answering fences asked of it meanwhile, so two harts fencing
   * each other cannot deadlock.
   */
  awaitFences(hart: number, serveOwn: () => void): void {
    const i = this.at(hart, FENCE);
    for (;;) {
      const pending = Atomics.load(this.i32, i);
      if (pending === 0 || !this.running(hart)) return;
      serveOwn();
      Atomics.wait(this.i32, i, pending, 1);
    }
  }

  setRunning(hart: number, running: boolean): void {
    Atomics.store(this.i32, this.at(hart, RUNNING), running ? 1 : 0);
  }

  running(hart: number): boolean {
    return Atomics.load(this.i32, this.at(hart, RUNNING)) !== 0;
  }

  // ---- MMIO mailboxes ----

  /** Hart side: performs one device access through the device thread; returns false on an access fault. */
  mmio(hart: number, write: boolean, paddr: number, width: number, value: bigint, out: { value: bigint }): boolean {
    const a = this.i32;
    const b = this.at(hart, 0);
    a[b + MB_OP] = (write ? 1 : 0) | (width << 8);
    a[b + MB_ADDR] = paddr % TWO32 | 0;
    a[b + MB_ADDR + 1] = Math.floor(paddr / TWO32);
    a[b + MB_VALUE] = Number(BigInt.asIntN(32, value));
    a[b + MB_VALUE + 1] = Number(BigInt.asIntN(32, value >> 32n));
    a[b + MB_FAULT] = 0;
    Atomics.store(a, b + MB_STATE, MB_REQUEST);
    Atomics.add(a, DOORBELL, 1);
    Atomics.notify(a, DOORBELL);
    while (Atomics.load(a, b + MB_STATE) === MB_REQUEST) Atomics.wait(a, b + MB_STATE, MB_REQUEST, 50);
    const fault = a[b + MB_FAULT] !== 0;
    out.value = (BigInt(a[b + MB_VALUE + 1]) << 32n) | BigInt(a[b + MB_VALUE] >>> 0);
    Atomics.store(a, b + MB_STATE, MB_IDLE);
    return !fault;
  }

  /** Device side: the doorbell's count, to wait on. */
  doorbell(): number {
    return Atomics.load(this.i32, DOORBELL);
  }

  /** Device side: serves every pending mailbox with `access` (which throws or returns null for a fault). */
  serve(access: (write: boolean, paddr: number, width: number, value: bigint) => bigint | null): number {
    const a = this.i32;
    let served = 0;
    for (let h = 0; h < this.harts; h++) {
      const b = this.at(h, 0);
      if (Atomics.load(a, b + MB_STATE) !== MB_REQUEST) continue;
      const op = a[b + MB_OP];
      const paddr = (a[b + MB_ADDR + 1] >>> 0) * TWO32 + (a[b + MB_ADDR] >>> 0);
      const value = (BigInt(a[b + MB_VALUE + 1]) << 32n) | BigInt(a[b + MB_VALUE] >>> 0);
      let result: bigint | null;
      try {
        result = access((op & 1) !== 0, paddr, op >>> 8, value);
      } catch {
        result = null;
      }
      if (result === null) a[b + MB_FAULT] = 1;
      else {
        a[b + MB_VALUE] = Number(BigInt.asIntN(32, result));
        a[b + MB_VALUE + 1] = Number(BigInt.asIntN(32, result >> 32n));
      }
      Atomics.store(a, b + MB_STATE, MB_DONE);
      Atomics.notify(a, b + MB_STATE);
      served++;
    }
    return served;
  }
}
