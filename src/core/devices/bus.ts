// The physical address map: RAM plus memory-mapped devices (QEMU virt layout, see machine/board).

/** A memory-mapped device. Widths are 1, 2, 4 (number, zero-extended) or 8 (bigint). */
export interface Device {
  read(offset: number, width: number): number | bigint;
  write(offset: number, width: number, value: number | bigint): void;
  reset(): void;
  /** Loads at any alignment are answered, as from memory (a flash bank's array); others fault when misaligned. */
  readonly unalignedReads?: boolean;
}

/** An interrupt line into an interrupt controller or a hart. */
export interface IrqLine {
  set(level: boolean): void;
}

interface Mapping {
  base: number;
  size: number;
  name: string;
  device: Device;
}

export class Bus {
  private maps: Mapping[] = [];

  map(base: number, size: number, name: string, device: Device): void {
    for (const m of this.maps) {
      if (base < m.base + m.size && m.base < base + size) {
        throw new Error(`device ${name} at 0x${base.toString(16)} overlaps ${m.name}`);
      }
    }
    this.maps.push({ base, size, name, device });
    this.maps.sort((a, b) => a.base - b.base);
  }

  /** The mapping that holds the whole access, or undefined (an access fault for the hart). */
  find(paddr: number, width: number): Mapping | undefined {
    for (const m of this.maps) {
      if (paddr >= m.base && paddr + width <= m.base + m.size) return m;
    }
    return undefined;
  }

  reset(): void {
    for (const m of this.maps) m.device.reset();
  }

  /** Where the devices are (for harts in other threads, which reach them through the VM's SmpLink). */
  layout(): { base: number; size: number; name: string }[] {
    return this.maps.map((m) => ({ base: m.base, size: m.size, name: m.name }));
  }
}
