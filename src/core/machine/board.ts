// The tvisor "virt" board: one table of devices (QEMU virt addresses) from which both the MMIO map and the
// device tree (Devicetree Specification v0.4; Linux RISC-V bindings) are produced, so they never disagree.
import { FdtWriter } from './fdt.js';
import { CLINT_BASE, CLINT_SIZE, TIMEBASE_HZ } from '../devices/clint.js';
import { PLIC_BASE } from '../devices/plic.js';
import { UART0_BASE, UART0_SIZE } from '../devices/uart16550.js';
import { RTC_BASE, RTC_SIZE, RTC_IRQ } from '../devices/goldfish-rtc.js';
import { SYSCON_BASE, SYSCON_SIZE } from '../devices/syscon.js';
import { CBO_BLOCK } from '../cpu/bits.js';
import { VIRTIO_MMIO_SIZE } from '../virtio/constants.js';

export const RAM_BASE = 0x8000_0000;
export const UART0_IRQ = 10;
/** PLIC interrupt ids 1..95 exist, as on QEMU virt. */
export const PLIC_SOURCES = 96;

/** virtio-mmio windows: 0x10001000 upwards, one page each, as on QEMU virt. */
export const VIRTIO_BASE = 0x1000_1000;
/** Slots the board offers (QEMU has 8; the address space up to fw_cfg at 0x10100000 holds many more). */
export const VIRTIO_SLOTS = 32;

/** Where virtio-mmio slot `i` lives and which PLIC source it raises (1-9, then 12 up: 10 and 11 are taken). */
export function virtioSlot(i: number): { base: number; irq: number } {
  if (!Number.isInteger(i) || i < 0 || i >= VIRTIO_SLOTS) throw new RangeError(`virtio slot ${i} does not exist`);
  return { base: VIRTIO_BASE + i * VIRTIO_MMIO_SIZE, irq: i < 9 ? 1 + i : 12 + (i - 9) };
}

/** What the guest is told about the harts: everything they implement, nothing more. */
export interface HartFeatures {
  /** Single-letter extensions from misa, lower case (e.g. "imafdc"). */
  letters: string;
  /** Multi-letter extensions, in canonical order. */
  extensions: string[];
  mmu: 'sv39' | 'sv48' | 'sv57';
}

export interface BoardConfig {
  harts: number;
  ramSize: number;
  plicSize: number;
  features: HartFeatures;
  bootargs: string;
  initrd?: { start: number; end: number };
  rngSeed: Uint8Array;
  /** virtio-mmio slots in use (0..n-1); the guest probes them in this order (vda before vdb). */
  virtioDevices?: number;
}

const hi = (v: number) => Math.floor(v / 2 ** 32);
const lo = (v: number) => v >>> 0;
const reg = (base: number, size: number) => [hi(base), lo(base), hi(size), lo(size)];
const unit = (base: number) => base.toString(16);

/** Builds the device tree blob for a board. */
export function buildDeviceTree(c: BoardConfig): Uint8Array {
  const f = new FdtWriter();
  const intc: number[] = [];
  for (let h = 0; h < c.harts; h++) intc.push(f.allocPhandle());
  const plic = f.allocPhandle();
  const test = f.allocPhandle();
  const isa = `rv64${c.features.letters}_${c.features.extensions.join('_')}`;

  f.begin('');
  f.propU32('#address-cells', 2);
  f.propU32('#size-cells', 2);
  f.propString('compatible', 'riscv-virtio');
  f.propString('model', 'tvisor,virt');

  f.begin('chosen');
  f.propString('bootargs', c.bootargs);
  f.propString('stdout-path', `/soc/serial@${unit(UART0_BASE)}`);
  if (c.initrd) {
    f.propU64('linux,initrd-start', BigInt(c.initrd.start));
    f.propU64('linux,initrd-end', BigInt(c.initrd.end));
  }
  f.propBytes('rng-seed', c.rngSeed);
  f.end();

  f.begin(`memory@${unit(RAM_BASE)}`);
  f.propString('device_type', 'memory');
  f.propCells('reg', reg(RAM_BASE, c.ramSize));
  f.end();

  f.begin('cpus');
  f.propU32('#address-cells', 1);
  f.propU32('#size-cells', 0);
  f.propU32('timebase-frequency', TIMEBASE_HZ);
  for (let h = 0; h < c.harts; h++) {
    f.begin(`cpu@${h}`);
    f.propString('device_type', 'cpu');
    f.propU32('reg', h);
    f.propString('status', 'okay');
    f.propString('compatible', 'riscv');
    f.propString('riscv,isa', isa);
    f.propString('riscv,isa-base', 'rv64i');
    f.propStrings('riscv,isa-extensions', [...c.features.letters.split(''), ...c.features.extensions]);
    if (c.features.extensions.includes('zicbom')) f.propU32('riscv,cbom-block-size', CBO_BLOCK);
    if (c.features.extensions.includes('zicboz')) f.propU32('riscv,cboz-block-size', CBO_BLOCK);
    f.propString('mmu-type', `riscv,${c.features.mmu}`);
    f.begin('interrupt-controller');
    f.propU32('#interrupt-cells', 1);
    f.propEmpty('interrupt-controller');
    f.propString('compatible', 'riscv,cpu-intc');
    f.propU32('phandle', intc[h]);
    f.end();
    f.end();
  }
  f.end();

  f.begin('soc');
  f.propU32('#address-cells', 2);
  f.propU32('#size-cells', 2);
  f.propString('compatible', 'simple-bus');
  f.propEmpty('ranges');

  f.begin(`clint@${unit(CLINT_BASE)}`);
  f.propStrings('compatible', ['sifive,clint0', 'riscv,clint0']);
  f.propCells('reg', reg(CLINT_BASE, CLINT_SIZE));
  f.propCells('interrupts-extended', intc.flatMap((p) => [p, 3, p, 7])); // MSI, MTI per hart
  f.end();

  f.begin(`plic@${unit(PLIC_BASE)}`);
  f.propStrings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  f.propCells('reg', reg(PLIC_BASE, c.plicSize));
  f.propU32('#address-cells', 0);
  f.propU32('#interrupt-cells', 1);
  f.propEmpty('interrupt-controller');
  f.propU32('riscv,ndev', PLIC_SOURCES - 1);
  f.propCells('interrupts-extended', intc.flatMap((p) => [p, 11, p, 9])); // contexts 2h (M), 2h+1 (S)
  f.propU32('phandle', plic);
  f.end();

  f.begin(`serial@${unit(UART0_BASE)}`);
  f.propString('compatible', 'ns16550a');
  f.propCells('reg', reg(UART0_BASE, UART0_SIZE));
  f.propU32('clock-frequency', 3686400);
  f.propU32('interrupts', UART0_IRQ);
  f.propU32('interrupt-parent', plic);
  f.end();

  f.begin(`rtc@${unit(RTC_BASE)}`);
  f.propString('compatible', 'google,goldfish-rtc');
  f.propCells('reg', reg(RTC_BASE, RTC_SIZE));
  f.propU32('interrupts', RTC_IRQ);
  f.propU32('interrupt-parent', plic);
  f.end();

  for (let i = 0; i < (c.virtioDevices ?? 0); i++) {
    const slot = virtioSlot(i);
    f.begin(`virtio_mmio@${unit(slot.base)}`);
    f.propString('compatible', 'virtio,mmio');
    f.propCells('reg', reg(slot.base, VIRTIO_MMIO_SIZE));
    f.propU32('interrupts', slot.irq);
    f.propU32('interrupt-parent', plic);
    f.end();
  }

  f.begin(`test@${unit(SYSCON_BASE)}`);
  f.propStrings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
  f.propCells('reg', reg(SYSCON_BASE, SYSCON_SIZE));
  f.propU32('phandle', test);
  f.end();

  f.begin('poweroff');
  f.propString('compatible', 'syscon-poweroff');
  f.propU32('regmap', test);
  f.propU32('offset', 0);
  f.propU32('value', 0x5555);
  f.end();

  f.begin('reboot');
  f.propString('compatible', 'syscon-reboot');
  f.propU32('regmap', test);
  f.propU32('offset', 0);
  f.propU32('value', 0x7777);
  f.end();

  f.end(); // soc
  f.end(); // root
  return f.finish({ bootCpuId: 0 });
}
