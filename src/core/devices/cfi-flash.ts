// Parallel NOR flash with the Intel/Sharp extended command set (CFI primary vendor command set 0x0001), as
// QEMU's pflash_cfi01 models it on the RISC-V virt board (hw/riscv/virt.c, virt_flash_create1): two banks of
// 32 MiB at 0x20000000 and 0x22000000, each a 32-bit bank ("width" 4) of 256 KiB sectors, built from two x16
// devices side by side ("device-width" 2), as on the ARM boards EDK2's NOR flash driver was written for: the
// low 16 bits of the bus go to one device, the high 16 bits to the other. The guest therefore writes each
// command to both devices at once (EDK2's CREATE_DUAL_CMD: cmd << 16 | cmd, 32-bit stores) and sees status,
// query and ID data once per 16-bit lane; Linux's CFI probe finds "2 x16 devices in a 32-bit bank". The two
// devices always receive the same commands from these guests, so one state machine runs the bank, commands
// taken from the low byte of a write as QEMU does.
//
// Sources for the behaviour: JEDEC JESD68.01 / Intel AP-646 "Common Flash Interface" (the query structure),
// the Intel StrataFlash (28F J3 / P30) data sheets (command set and status register), QEMU's
// hw/block/pflash_cfi01.c (what QEMU guests see), EDK2's OvmfPkg/VirtNorFlashDxe and Linux's
// drivers/mtd/chips/cfi_probe.c + cfi_cmdset_0001.c (what the guests write and expect).
//
// Every operation completes at once: the status register's ready bit (SR.7) is always set when the guest
// polls it. Nothing the guest writes throws: unknown commands return the bank to read-array mode (as QEMU
// does); a broken sequence sets the status register's error bits, as the data sheets say.
import type { Device } from './bus.js';
import { RecordReader, SnapshotError } from '../snapshot/state.js';

/** Bank 0 (EDK2's code, executed in place); bank 1 (its variable store) follows at FLASH_BASE + FLASH_BANK_SIZE. */
export const FLASH_BASE = 0x2000_0000;
export const FLASH_BANK_SIZE = 32 * 2 ** 20;
/** The bank's erase block: 128 KiB in each of the two devices, erased together. */
export const FLASH_SECTOR_SIZE = 256 * 1024;
/** Bytes on the bus per access of the bank (the devicetree's bank-width). */
export const FLASH_BANK_WIDTH = 4;

/** Each device drives 16 bits of the bus (QEMU virt: device-width 2). */
const DEVICE_WIDTH = 2;
const DEVICES = FLASH_BANK_WIDTH / DEVICE_WIDTH;
/**
 * One device's write buffer is 2^11 bytes (query byte 0x2A, 0x0B in QEMU for banks wider than a byte). The
 * bank's buffer is the two side by side, 4 KiB, as QEMU computes it and as Linux does (interleave << 0x2A).
 * EDK2 ignores the query and always programs 128 bytes (32 bank words) per buffer.
 */
const DEVICE_BUFFER_LOG2 = 11;
const WRITE_BUFFER = DEVICES << DEVICE_BUFFER_LOG2;
/** Bank words (FLASH_BANK_WIDTH bytes each) the buffer holds: the largest count + 1 a buffered program may give. */
const BUFFER_WORDS = WRITE_BUFFER / FLASH_BANK_WIDTH;
/** Read Identifier codes of each device (QEMU virt: id0 0x89 = Intel, id1 0x18). */
const MANUFACTURER_ID = 0x0089;
const DEVICE_ID = 0x0018;

/** Status register bits (Intel data sheets, "Status Register Definitions"). */
const enum SR {
  READY = 0x80, // SR.7: write state machine ready
  ERASE_ERROR = 0x20, // SR.5: erase (or clear lock bits) failed; with SR.4: command sequence error
  PROGRAM_ERROR = 0x10, // SR.4: program (or set lock bit) failed
  LOCKED = 0x02, // SR.1: the operation was aborted because the block is protected
}

/** Command codes (low byte of a write; Intel data sheets, "Command Bus Definitions"). */
const enum Cmd {
  READ_ARRAY = 0xff,
  AMD_RESET = 0xf0, // the AMD command set's reset, which probes (Linux's cfi_qry_mode_on) send first
  QEMU_READ_ARRAY = 0x00, // QEMU takes 0x00 as read array too
  PROGRAM = 0x40,
  PROGRAM_ALT = 0x10,
  ERASE_SETUP = 0x20,
  CONFIRM = 0xd0, // erase confirm, buffered program confirm, unlock block
  CLEAR_STATUS = 0x50,
  LOCK_SETUP = 0x60,
  LOCK_BLOCK = 0x01,
  LOCK_DOWN = 0x2f,
  CONFIG_REGISTER = 0x03,
  READ_STATUS = 0x70,
  READ_ID = 0x90,
  QUERY = 0x98,
  BUFFERED_PROGRAM = 0xe8,
}

/**
 * What the bank does with the next access. Reads return the array in 'array', the CFI query structure in
 * 'query', identifier codes in 'id' and the status register in every other mode (the data sheets: after a
 * program, erase or lock command the device outputs status until told otherwise). Writes in 'array',
 * 'status', 'query' and 'id' are new commands; the other modes wait for the next cycle of a command.
 */
const MODES = ['array', 'status', 'query', 'id', 'program', 'erase', 'lock', 'bufferCount', 'bufferData', 'bufferConfirm'] as const;
type Mode = (typeof MODES)[number];

/** A bank's command state (save/restore); the array itself is the host's storage, saved on its own. */
export interface CfiFlashState {
  version: 1;
  mode: Mode;
  /** The status register. */
  status: number;
  /** Buffered program: bank words still to come before the confirm (mode 'bufferData'; else 0). */
  remaining: number;
  /** Buffered program: offset in the bank of the write buffer's window, -1 before the first data word. */
  window: number;
  /** Buffered program: where in the window the bytes written so far start, and those bytes (0xff where none was written). */
  bufferStart: number;
  buffer: number[];
}

/**
 * The CFI query structure of one device of a bank of `bankBytes` (JESD68.01, "CFI Query Identification
 * String", "System Interface Information", "Device Geometry Definition", and the Intel primary extended
 * query table), indexed by query address. The devices split each erase block of the bank between them, so
 * one device holds the bank's number of blocks, each half the bank's sector, and half the bank's bytes.
 */
function queryTable(bankBytes: number): Uint8Array {
  const t = new Uint8Array(0x44);
  const blocks = bankBytes / FLASH_SECTOR_SIZE;
  const deviceBlock = FLASH_SECTOR_SIZE / DEVICES;
  const put = (at: number, ...bytes: number[]): void => t.set(bytes, at);
  put(0x10, 0x51, 0x52, 0x59); // "QRY"
  put(0x13, 0x01, 0x00); // primary vendor command set: 0x0001, Intel/Sharp extended
  put(0x15, 0x31, 0x00); // its extended query table at query address 0x31
  put(0x17, 0x00, 0x00, 0x00, 0x00); // no alternate command set, no table for it
  put(0x1b, 0x45, 0x55); // Vcc 4.5 V to 5.5 V (volts in the high nibble, 100 mV in the low)
  put(0x1d, 0x00, 0x00); // no Vpp pin
  // Typical times: word program 2^7 us, buffer program 2^7 us (non-zero: buffered program is supported, which
  // is how Linux decides to use it), block erase 2^10 ms, no chip erase; the maxima 2^4 times those.
  put(0x1f, 0x07, 0x07, 0x0a, 0x00, 0x04, 0x04, 0x04, 0x00);
  // Device size 2^n bytes. Only powers of two can be written here; a bank of another size gets the next one up.
  put(0x27, Math.ceil(Math.log2(bankBytes / DEVICES)));
  put(0x28, 0x02, 0x00); // interface: x8/x16 asynchronous
  put(0x2a, DEVICE_BUFFER_LOG2, 0x00); // write buffer 2^n bytes
  put(0x2c, 0x01); // one erase block region, uniform blocks:
  put(0x2d, (blocks - 1) & 0xff, (blocks - 1) >> 8); //   number of blocks - 1
  put(0x2f, (deviceBlock >> 8) & 0xff, deviceBlock >> 16); //   block size in units of 256 bytes
  // Intel primary extended query table, version 1.0: no optional features, no suspend, no block status
  // register bits, one protection register field (QEMU's values; Linux's cfi_cmdset_0001 reads this far).
  put(0x31, 0x50, 0x52, 0x49, 0x31, 0x30); // "PRI", "1", "0"
  put(0x3f, 0x01);
  return t;
}

export class CfiFlash implements Device {
  readonly size: number;
  private readonly storage: Uint8Array;
  private readonly view: DataView;
  private readonly readOnly: boolean;
  private readonly onWrite: ((offset: number, length: number) => void) | undefined;
  private readonly query: Uint8Array;
  private mode: Mode = 'array';
  private status: number = SR.READY;
  private remaining = 0;
  private window = -1;
  /** The write buffer's window as the guest filled it, 0xff where it wrote nothing (programming 0xff is a no-op). */
  private readonly buffer = new Uint8Array(WRITE_BUFFER).fill(0xff);
  /** The span of the buffer written so far, [lo, hi) in the window (lo > hi: nothing yet). */
  private lo = WRITE_BUFFER;
  private hi = 0;

  constructor(opts: {
    /** The bank's contents (its length is the bank size, a multiple of the sector size). Reads in array mode return these bytes; program/erase change them in place. */
    storage: Uint8Array;
    /** Program and erase fail (status register error bits set, contents unchanged), as a write-protected bank. */
    readOnly?: boolean;
    /** Called after bytes [offset, offset+length) of storage changed (program, buffered program, erase): the host persists them, caches drop decoded code. */
    onWrite?: (offset: number, length: number) => void;
  }) {
    const n = opts.storage.length;
    // the query structure counts blocks in 16 bits
    if (n === 0 || n % FLASH_SECTOR_SIZE !== 0 || n / FLASH_SECTOR_SIZE > 0x10000) {
      throw new Error(`cfi-flash: a bank of ${n} bytes is not a whole number (1 to 65536) of ${FLASH_SECTOR_SIZE}-byte sectors`);
    }
    this.storage = opts.storage;
    this.size = n;
    this.view = new DataView(opts.storage.buffer, opts.storage.byteOffset, n);
    this.readOnly = opts.readOnly ?? false;
    this.onWrite = opts.onWrite;
    this.query = queryTable(n);
  }

  /** Software reads the array in place as memory (EDK2's variable driver and SEC do), at any alignment; the
   *  register modes answer by bus lane, whatever the alignment. */
  readonly unalignedReads = true;

  /** True while reads return the array (not status/query/ID data). */
  get arrayMode(): boolean {
    return this.mode === 'array';
  }

  /** Read array mode, status ready with no errors, no program pending (the data sheets' state after reset). */
  reset(): void {
    this.mode = 'array';
    this.status = SR.READY;
    this.endBuffer();
  }

  save(): CfiFlashState {
    const written = this.window >= 0 && this.lo < this.hi;
    return {
      version: 1,
      mode: this.mode,
      status: this.status,
      remaining: this.remaining,
      window: this.window,
      bufferStart: written ? this.lo : 0,
      buffer: written ? Array.from(this.buffer.subarray(this.lo, this.hi)) : [],
    };
  }

  /** Takes a saved state, refusing a bad record before changing anything. */
  restore(record: unknown): void {
    const r = new RecordReader(record, 'cfi-flash', 1);
    const mode = r.raw('mode');
    if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
      throw new SnapshotError(`snapshot: cfi-flash.mode must be one of ${MODES.join(', ')}`);
    }
    const m = mode as Mode;
    const status = r.uint('status', 0xff);
    const remaining = r.uint('remaining', BUFFER_WORDS);
    const window = r.safeInt('window');
    const bufferStart = r.uint('bufferStart', WRITE_BUFFER);
    const buffer = r.uints('buffer', -1, 0xff, WRITE_BUFFER);
    const bad = (why: string): SnapshotError => new SnapshotError(`snapshot: cfi-flash.${why}`);
    if ((m === 'bufferData') !== (remaining > 0)) throw bad('remaining must be above 0 in mode bufferData and 0 in any other');
    if (window !== -1 && (window < 0 || window % WRITE_BUFFER !== 0 || window >= this.size)) {
      throw bad(`window must be -1 or a multiple of ${WRITE_BUFFER} inside the bank`);
    }
    if (window >= 0 && m !== 'bufferData' && m !== 'bufferConfirm') throw bad('window must be -1 outside a buffered program');
    if (m === 'bufferConfirm' && window < 0) throw bad('window must be set in mode bufferConfirm');
    if (bufferStart + buffer.length > WRITE_BUFFER) throw bad(`buffer must end inside the ${WRITE_BUFFER}-byte write buffer`);
    if (window < 0 && (buffer.length > 0 || bufferStart > 0)) throw bad('buffer must be empty before the first data word');
    this.mode = m;
    this.status = status;
    this.endBuffer();
    this.remaining = remaining;
    this.window = window;
    this.buffer.fill(0xff);
    if (buffer.length > 0) {
      this.buffer.set(buffer, bufferStart);
      this.lo = bufferStart;
      this.hi = bufferStart + buffer.length;
    }
  }

  read(offset: number, width: number): number | bigint {
    if (!(offset >= 0 && offset + width <= this.size)) return width === 8 ? 0n : 0; // the bus never does this
    if (this.mode === 'array') {
      switch (width) {
        case 1: return this.storage[offset];
        case 2: return this.view.getUint16(offset, true);
        case 4: return this.view.getUint32(offset, true);
        case 8: return this.view.getBigUint64(offset, true);
      }
      return 0;
    }
    // The register modes answer in bus words of FLASH_BANK_WIDTH bytes; QEMU's memory core splits wider loads.
    if (width === 8) return BigInt(this.readRegister(offset, 4)) | (BigInt(this.readRegister(offset + 4, 4)) << 32n);
    return width === 1 || width === 2 || width === 4 ? this.readRegister(offset, width) : 0;
  }

  /** Bytes of the bus words a status, query or ID read returns, little-endian (as the bus lanes are). */
  private readRegister(offset: number, width: number): number {
    let v = 0;
    for (let i = width - 1; i >= 0; i--) {
      const a = offset + i;
      const lane = a % FLASH_BANK_WIDTH;
      v = v * 256 + ((this.busWord(a - lane) >>> (lane * 8)) & 0xff);
    }
    return v;
  }

  /**
   * The bus word at `offset` (a multiple of the bank width) outside array mode: each device answers on its
   * own 16-bit lane, the same 16-bit value, since both are in the same state. Query and ID addresses count
   * in device words, so address n is at byte n * FLASH_BANK_WIDTH of the bank (QEMU shifts the offset right by
   * log2 of the bank width for device-width 2); the status register is the low byte of each lane.
   */
  private busWord(offset: number): number {
    let d: number;
    const n = offset / FLASH_BANK_WIDTH;
    switch (this.mode) {
      case 'query':
        d = n < this.query.length ? this.query[n] : 0;
        break;
      case 'id':
        // Device word 0: manufacturer, 1: device; 2 is the block lock status, 0 = unlocked (QEMU does not
        // model locks; EDK2 reads it before each write and unlocks a block that says 1). QEMU answers the
        // same in every 256-word window, so a read at a block's base + 2 works.
        switch (n % 256) {
          case 0: d = MANUFACTURER_ID; break;
          case 1: d = DEVICE_ID; break;
          default: d = 0;
        }
        break;
      default:
        d = this.status;
    }
    return (d | (d << 16)) >>> 0;
  }

  write(offset: number, width: number, value: number | bigint): void {
    if (!(offset >= 0 && offset + width <= this.size)) return; // the bus never does this
    if (width === 8) {
      // Two 4-byte cycles, low word first, as QEMU's memory core splits a store wider than the device's 4 bytes.
      const v = BigInt.asUintN(64, BigInt(value));
      this.cycle(offset, 4, Number(v & 0xffff_ffffn));
      this.cycle(offset + 4, 4, Number(v >> 32n));
      return;
    }
    if (width !== 1 && width !== 2 && width !== 4) return;
    const v = typeof value === 'bigint' ? Number(BigInt.asUintN(32, value)) : value >>> 0;
    this.cycle(offset, width, width === 4 ? v : v & ((1 << (width * 8)) - 1));
  }

  /** One bus write cycle of `width` bytes: a command, or the next cycle of one under way. */
  private cycle(offset: number, width: number, value: number): void {
    const cmd = value & 0xff;
    switch (this.mode) {
      case 'program':
        // The second cycle of a word program is the data, whatever its value.
        this.mode = 'status';
        this.program(offset, width, value);
        return;
      case 'erase':
        // The block is the one the confirm addresses (the data sheets latch the block address at 0xD0).
        if (cmd === Cmd.CONFIRM) this.erase(offset);
        else this.sequenceError();
        return;
      case 'lock':
        // Lock, unlock, lock-down, configuration register: accepted; blocks are never locked (as in QEMU),
        // a read-only bank refuses program and erase instead.
        if (cmd === Cmd.LOCK_BLOCK || cmd === Cmd.CONFIRM || cmd === Cmd.LOCK_DOWN || cmd === Cmd.CONFIG_REGISTER) {
          this.mode = 'status';
          this.status |= SR.READY;
        } else {
          this.sequenceError();
        }
        return;
      case 'bufferCount':
        this.bufferCount(value);
        return;
      case 'bufferData':
        this.bufferData(offset, width, value);
        return;
      case 'bufferConfirm':
        this.bufferConfirm(cmd);
        return;
    }
    this.command(cmd);
  }

  /** The first cycle of a command (any mode that is not in the middle of one). */
  private command(cmd: number): void {
    switch (cmd) {
      case Cmd.READ_STATUS: this.mode = 'status'; return;
      case Cmd.READ_ID: this.mode = 'id'; return;
      case Cmd.QUERY: this.mode = 'query'; return;
      case Cmd.PROGRAM:
      case Cmd.PROGRAM_ALT:
        this.mode = 'program';
        return;
      case Cmd.ERASE_SETUP: this.mode = 'erase'; return;
      case Cmd.LOCK_SETUP: this.mode = 'lock'; return;
      case Cmd.BUFFERED_PROGRAM:
        // The status read after 0xE8 says whether a buffer is free (XSR.7): always, here.
        this.mode = 'bufferCount';
        this.status |= SR.READY;
        return;
      case Cmd.CLEAR_STATUS:
        // Clears the error bits; SR.7 reports the write state machine, which is idle. QEMU then reads the array.
        this.status = SR.READY;
        this.mode = 'array';
        return;
    }
    // Read array (0xFF, and QEMU's 0x00 and 0xF0), and every command this bank does not know: QEMU returns to
    // read array on an unknown command. Linux's probe writes AMD's 0xAA/0x55 unlock cycles this way.
    this.mode = 'array';
  }

  /** Word program: NOR programming only clears bits, so the array keeps old AND new. */
  private program(offset: number, width: number, value: number): void {
    if (this.readOnly) {
      this.status |= SR.READY | SR.PROGRAM_ERROR | SR.LOCKED;
      return;
    }
    this.programBytes(offset, width, (i) => value >>> (i * 8));
    this.status |= SR.READY;
  }

  /**
   * Programs bytes [offset, offset + length) of the array with byte(i) for the i-th: NOR programming only
   * clears bits, so each keeps old AND new. The host is told the span that changed, if any.
   */
  private programBytes(offset: number, length: number, byte: (i: number) => number): void {
    let lo = -1;
    let hi = -1;
    for (let i = 0; i < length; i++) {
      const a = offset + i;
      const old = this.storage[a];
      const now = old & byte(i);
      if (now !== old) {
        this.storage[a] = now;
        if (lo < 0) lo = a;
        hi = a + 1;
      }
    }
    if (lo >= 0) this.onWrite?.(lo, hi - lo);
  }

  private erase(offset: number): void {
    const base = offset - (offset % FLASH_SECTOR_SIZE);
    this.mode = 'status';
    if (this.readOnly) {
      this.status |= SR.READY | SR.ERASE_ERROR | SR.LOCKED;
      return;
    }
    this.storage.fill(0xff, base, base + FLASH_SECTOR_SIZE);
    this.status |= SR.READY;
    this.onWrite?.(base, FLASH_SECTOR_SIZE);
  }

  /**
   * Buffered program, second cycle: the number of bank words to come, minus one. Each device reads its own
   * count from its 16-bit lane (EDK2 writes it to both: 0x001F001F for 32 words), so the count is the low 16
   * bits. A count beyond the buffer is a command sequence error and nothing is programmed.
   */
  private bufferCount(value: number): void {
    const words = (value & 0xffff) + 1;
    if (words > BUFFER_WORDS) {
      this.sequenceError();
      return;
    }
    this.mode = 'bufferData';
    this.remaining = words;
    this.window = -1;
  }

  /**
   * Buffered program, data cycles: each fills the buffer (the array is not touched before the confirm, so a
   * program cut short leaves no half-written data, as QEMU since 9.0). The buffer covers the aligned window of
   * WRITE_BUFFER bytes around the first data word (QEMU: the first data address, not the setup's: U-Boot
   * writes the setup and count at the block's base); data outside it (another window, another block) sets the
   * program error bit and is dropped, so the confirm then programs nothing. Within the window the guest may
   * write in any order; a word written twice keeps the last data.
   */
  private bufferData(offset: number, width: number, value: number): void {
    if (this.window < 0) {
      this.window = offset - (offset % WRITE_BUFFER);
      this.buffer.fill(0xff);
      this.lo = WRITE_BUFFER;
      this.hi = 0;
    }
    const at = offset - this.window;
    if (at < 0 || at + width > WRITE_BUFFER) {
      this.status |= SR.PROGRAM_ERROR;
    } else {
      for (let i = 0; i < width; i++) this.buffer[at + i] = (value >>> (i * 8)) & 0xff;
      this.lo = Math.min(this.lo, at);
      this.hi = Math.max(this.hi, at + width);
    }
    if (--this.remaining === 0) this.mode = 'bufferConfirm';
  }

  /**
   * Buffered program, confirm (0xD0, at any address: EDK2 writes it at the bank's base, not the block's).
   * Programs the buffer unless a program error is flagged (QEMU's rule: status bits still set from an earlier
   * failure abort it too, until the guest clears them with 0x50). Anything but 0xD0 aborts the program.
   */
  private bufferConfirm(cmd: number): void {
    if (cmd !== Cmd.CONFIRM) {
      this.sequenceError();
      return;
    }
    this.mode = 'status';
    this.status |= SR.READY;
    if (this.readOnly) {
      this.status |= SR.PROGRAM_ERROR | SR.LOCKED;
    } else if (!(this.status & SR.PROGRAM_ERROR) && this.lo < this.hi) {
      const buffer = this.buffer;
      const from = this.lo;
      this.programBytes(this.window + from, this.hi - from, (i) => buffer[from + i]);
    }
    this.endBuffer();
  }

  /** An improper command sequence (SR.4 and SR.5 both set, the data sheets' "command sequence error"); the operation is abandoned. */
  private sequenceError(): void {
    this.status |= SR.READY | SR.PROGRAM_ERROR | SR.ERASE_ERROR;
    this.mode = 'status';
    this.endBuffer();
  }

  private endBuffer(): void {
    this.remaining = 0;
    this.window = -1;
    this.lo = WRITE_BUFFER;
    this.hi = 0;
  }
}
