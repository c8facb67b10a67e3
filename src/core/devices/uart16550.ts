// ns16550a UART (register map of the PC16550D data sheet), 1-byte registers at stride 1. Input is bounded:
// a 16-byte receive FIFO as in the chip, fed by a bounded host line that honours RTS/CTS flow control (it holds
// input while the guest's driver keeps RTS off, as before its port is opened); beyond the line, input drops.
import type { Device, IrqLine } from './bus.js';
import { ByteQueue } from './byte-queue.js';
import { RecordReader } from '../snapshot/state.js';

export const UART0_BASE = 0x1000_0000;
export const UART0_SIZE = 0x100;

const enum LSR {
  DR = 0x01, // data ready
  THRE = 0x20, // transmit holding register empty
  TEMT = 0x40, // transmitter empty
}
const enum IER {
  RDA = 0x01, // received data available
  THRE = 0x02,
}
const enum MCR {
  RTS = 0x02, // request to send: the guest is ready to receive (RTS/CTS flow control)
  LOOP = 0x10, // loopback: the receiver is disconnected from the line (Linux's probe tests the port this way)
}

/** The 16550's receive FIFO (PC16550D: "16 bytes"). */
export const UART_RX_FIFO = 16;
/**
 * Host input not yet in the FIFO: the host end of a serial line with flow control, which sends only while the
 * FIFO has room, so a paste of a few KiB arrives whole; what does not fit here is dropped (and counted).
 */
export const UART_LINE_BACKLOG = 64 * 1024;

export interface UartStats {
  /** Bytes the guest read. */
  rxBytes: number;
  /** Host input dropped because the line backlog was full. */
  rxDropped: number;
}

/** A UART's saved state (save/restore). regs: IER, LCR, MCR, SCR, DLL, DLM, FCR. */
export interface UartState {
  version: 1;
  regs: number[];
  thriPending: boolean;
  mcrWritten: boolean;
  rx: number[];
  line: number[];
}

export class Uart16550 implements Device {
  readonly stats: UartStats = { rxBytes: 0, rxDropped: 0 };
  private readonly rx = new ByteQueue(UART_RX_FIFO);
  private readonly line = new ByteQueue(UART_LINE_BACKLOG);
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fcr = 0;
  /**
   * THR-empty interrupt pending: cleared by an IIR read that reports it (PC16550D, "Interrupt Reset Control");
   * set again at once by a THR write, since the byte leaves at once, and when IER enables it.
   */
  private thriPending = false;
  /**
   * The guest has programmed the modem control register since reset: from then on RTS says when it can
   * receive. Before that (and for drivers that never do, such as xv6's), enabling the received-data
   * interrupt does.
   */
  private mcrWritten = false;

  constructor(private readonly output: (byte: number) => void, private readonly irq: IrqLine | null = null) {}

  reset(): void {
    this.rx.clear();
    this.line.clear();
    this.ier = this.lcr = this.mcr = this.scr = this.dll = this.dlm = this.fcr = 0;
    this.thriPending = false;
    this.mcrWritten = false;
    this.update();
  }

  /** The UART's state: its registers, the receive FIFO and the host input waiting on the line. */
  save(): UartState {
    return {
      version: 1,
      regs: [this.ier, this.lcr, this.mcr, this.scr, this.dll, this.dlm, this.fcr],
      thriPending: this.thriPending,
      mcrWritten: this.mcrWritten,
      rx: this.rx.contents(),
      line: this.line.contents(),
    };
  }

  /** Takes a saved state, refusing a bad record before changing anything. */
  restore(record: unknown): void {
    const r = new RecordReader(record, 'uart', 1);
    const regs = r.uints('regs', 7, 0xff);
    const thriPending = r.bool('thriPending');
    const mcrWritten = r.bool('mcrWritten');
    const rx = r.uints('rx', -1, 0xff, UART_RX_FIFO);
    const line = r.uints('line', -1, 0xff, UART_LINE_BACKLOG);
    [this.ier, this.lcr, this.mcr, this.scr, this.dll, this.dlm, this.fcr] = regs;
    this.thriPending = thriPending;
    this.mcrWritten = mcrWritten;
    this.rx.clear();
    this.rx.push(Uint8Array.from(rx));
    this.line.clear();
    this.line.push(Uint8Array.from(line));
    this.update();
  }

  /** Host → guest bytes (keyboard input); returns how many were dropped because the line backlog is full. */
  receive(bytes: Uint8Array): number {
    const dropped = bytes.length - this.line.push(bytes);
    this.stats.rxDropped += dropped;
    this.refill();
    this.update();
    return dropped;
  }

  /** Host input waiting for the guest (FIFO and line). */
  get pendingInput(): number {
    return this.rx.length + this.line.length;
  }

  /**
   * Moves host input into the FIFO while it has room and the guest is ready to receive. The host end of the
   * line sends only while RTS is asserted (MCR bit 1, PC16550D "Modem Control Register"), as a modem with
   * RTS/CTS flow control does; in loopback mode (MCR bit 4) the receiver is disconnected from the line. Linux's
   * 8250 driver keeps RTS off until a port is opened, and on opening clears the FIFO and reads RBR before it
   * raises RTS: input typed or piped in during boot waits on the line instead of being thrown away there. A
   * driver that has not programmed MCR is ready once it enables the received-data interrupt (IER bit 0).
   */
  private refill(): void {
    const ready = this.mcrWritten ? (this.mcr & (MCR.RTS | MCR.LOOP)) === MCR.RTS : (this.ier & IER.RDA) !== 0;
    if (!ready) return;
    while (this.rx.free > 0 && this.line.length > 0) this.rx.pushByte(this.line.shift());
  }

  private dlab(): boolean {
    return (this.lcr & 0x80) !== 0;
  }

  private iir(): number {
    if (this.ier & IER.RDA && this.rx.length > 0) return 0x04;
    if (this.ier & IER.THRE && this.thriPending) return 0x02;
    return 0x01; // no interrupt pending
  }

  /**
   * The interrupt output, at every register access or input that changes the UART's state: high while an
   * interrupt is pending. The board wires it to an edge-triggered PLIC source (vm.ts), so each of these
   * signals, not the level, makes a request; as with QEMU's 16550 and PLIC, a handler that leaves THR-empty
   * pending (xv6-riscv's 2022 release never reads IIR) gets no new interrupt until the UART's state changes again.
   */
  private update(): void {
    this.irq?.set(this.iir() !== 0x01);
  }

  read(offset: number, width: number): number {
    if (width !== 1) return 0;
    switch (offset) {
      case 0:
        if (this.dlab()) return this.dll;
        {
          const b = this.rx.shift();
          if (b < 0) return 0;
          this.stats.rxBytes++;
          this.refill();
          this.update();
          return b;
        }
      case 1: return this.dlab() ? this.dlm : this.ier;
      case 2: {
        const v = this.iir() | (this.fcr & 1 ? 0xc0 : 0);
        if ((v & 0x0f) === 0x02) {
          this.thriPending = false;
          this.update();
        }
        return v;
      }
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: return LSR.THRE | LSR.TEMT | (this.rx.length > 0 ? LSR.DR : 0);
      case 6: return 0xb0; // DCD, DSR, CTS asserted
      case 7: return this.scr;
    }
    return 0;
  }

  write(offset: number, width: number, value: number | bigint): void {
    if (width !== 1) return;
    const v = Number(value) & 0xff;
    switch (offset) {
      case 0:
        if (this.dlab()) this.dll = v;
        else {
          this.output(v);
          this.thriPending = true;
          this.update();
        }
        break;
      case 1:
        if (this.dlab()) this.dlm = v;
        else {
          const was = this.ier;
          this.ier = v & 0x0f;
          if (!(was & IER.THRE) && this.ier & IER.THRE) this.thriPending = true;
          this.refill();
          this.update();
        }
        break;
      case 2:
        this.fcr = v;
        if (v & 2) {
          this.rx.clear(); // the FIFO only: the host's side of the line refills it
          this.refill();
        }
        this.update();
        break;
      case 3: this.lcr = v; break;
      case 4:
        this.mcr = v & 0x1f;
        this.mcrWritten = true;
        this.refill();
        this.update();
        break;
      case 7: this.scr = v; break;
    }
  }
}
