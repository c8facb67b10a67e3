// The VM Generation ID device (Microsoft's "Virtual Machine Generation ID" specification, 2012; Linux's
// drivers/virt/vmgenid.c and the devicetree binding rng/microsoft,vmgenid.yaml): 16 bytes of guest-readable
// memory holding a cryptographically random identifier, and an interrupt. When a saved machine is resumed
// (possibly many times: clones), the host writes a new identifier and raises the interrupt; Linux then calls
// add_vmfork_randomness(), which reseeds its random number generator at once, so two clones of one snapshot
// never hand out the same random numbers ("crng reseeded due to virtual machine fork" in the kernel log).
// This is how Firecracker and Hyper-V tell a resumed guest that it is a new generation.
import type { Device, IrqLine } from './bus.js';
import { RecordReader } from '../snapshot/state.js';

/** Free on QEMU's virt board (between the RTC at 0x101000 and the CLINT). */
export const VMGENID_BASE = 0x10_2000;
export const VMGENID_SIZE = 0x1000;
/** A PLIC source no other device of the board uses (virtio slots take 1-9 and 12-34). */
export const VMGENID_IRQ = 40;
const ID_BYTES = 16;

export interface VmGenIdState {
  version: 1;
  /** The identifier, 32 hex digits. */
  id: string;
}

export class VmGenId implements Device {
  private readonly id = new Uint8Array(ID_BYTES);

  /** `random(n)`: n bytes from the host's cryptographic generator (the first identifier, and every new one). */
  constructor(private readonly random: (n: number) => Uint8Array, private readonly irq: IrqLine | null = null) {
    this.id.set(random(ID_BYTES));
  }

  /** The guest reads the identifier with loads of any width (Linux copies it with memcpy); the rest reads zero. */
  read(offset: number, width: number): number | bigint {
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(offset + i < ID_BYTES ? this.id[offset + i] : 0);
    return width === 8 ? v : Number(v);
  }

  /** Read-only for the guest. */
  write(): void {}

  /** The identifier belongs to the machine, not to a boot: a reset keeps it. */
  reset(): void {}

  /** A new generation (the machine was just restored): a fresh identifier, and an interrupt edge to say so. */
  newGeneration(): void {
    this.id.set(this.random(ID_BYTES));
    // the PLIC's gateway latches the request on the rising edge; the line does not stay up
    this.irq?.set(true);
    this.irq?.set(false);
  }

  get identifier(): Uint8Array {
    return this.id.slice();
  }

  save(): VmGenIdState {
    return { version: 1, id: Array.from(this.id, (b) => b.toString(16).padStart(2, '0')).join('') };
  }

  restore(record: unknown): void {
    this.id.set(new RecordReader(record, 'vmgenid', 1).hex('id', ID_BYTES));
  }
}
