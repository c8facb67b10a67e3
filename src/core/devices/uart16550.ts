// ns16550a UART (register map of the PC16550D data sheet), 1-byte registers at stride 1.
import type { Device, IrqLine } from './bus.js';

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

export class Uart16550 implements Device {
  private rx: number[] = [];
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fcr = 0;
  /** THR-empty interrupt pending (cleared by reading IIR or writing THR). */
  private thriPending = false;

  constructor(private readonly output: (byte: number) => void, private readonly irq: IrqLine | null = null) {}

  reset(): void {
    this.rx = [];
    this.ier = this.lcr = this.mcr = this.scr = this.dll = this.dlm = this.fcr = 0;
    this.thriPending = false;
    this.update();
  }

  /** Host → guest bytes (keyboard input). */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) this.rx.push(b);
    this.update();
  }

  private dlab(): boolean {
    return (this.lcr & 0x80) !== 0;
  }

  private iir(): number {
    if (this.ier & IER.RDA && this.rx.length > 0) return 0x04;
    if (this.ier & IER.THRE && this.thriPending) return 0x02;
    return 0x01; // no interrupt pending
  }

  private update(): void {
    this.irq?.set(this.iir() !== 0x01);
  }

  read(offset: number, width: number): number {
    if (width !== 1) return 0;
    switch (offset) {
      case 0:
        if (this.dlab()) return this.dll;
        {
          const b = this.rx.length > 0 ? this.rx.shift()! : 0;
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
          this.update();
        }
        break;
      case 2:
        this.fcr = v;
        if (v & 2) this.rx = [];
        this.update();
        break;
      case 3: this.lcr = v; break;
      case 4: this.mcr = v & 0x1f; break;
      case 7: this.scr = v; break;
    }
  }
}
