// The tvisor "virt" board: one table of devices (QEMU virt addresses) from which both the MMIO map and the
// device tree (Devicetree Specification v0.4; Linux RISC-V bindings) are produced, so they never disagree.
import { FdtWriter } from './fdt.js';
import { CLINT_BASE, CLINT_SIZE, TIMEBASE_HZ } from '../devices/clint.js';
import { PLIC_BASE, plicSize } from '../devices/plic.js';
import { UART0_BASE, UART0_SIZE } from '../devices/uart16550.js';
import { RTC_BASE, RTC_SIZE, RTC_IRQ } from '../devices/goldfish-rtc.js';
import { SYSCON_BASE, SYSCON_SIZE } from '../devices/syscon.js';
import { VMGENID_BASE, VMGENID_IRQ, VMGENID_SIZE } from '../devices/vmgenid.js';
import { CBO_BLOCK } from '../cpu/bits.js';
import { VIRTIO_MMIO_SIZE } from '../virtio/constants.js';
import { FLASH_BANK_SIZE, FLASH_BANK_WIDTH, FLASH_BASE } from '../devices/cfi-flash.js';

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

/** What sits at a place on the board's MMIO map (vm.ts puts a device there for each). */
export type BoardDeviceKind = 'clint' | 'plic' | 'uart' | 'rtc' | 'vmgenid' | 'virtio' | 'syscon' | 'flash';

/** One entry of the board's map: the device kind, its MMIO window, its PLIC source (virtio: its slot). */
export interface BoardDevice {
  kind: BoardDeviceKind;
  /** The bus name of the window (virtio windows take their device's name). */
  name: string;
  base: number;
  size: number;
  irq?: number;
  /** virtio: the slot number (0 = the first device). */
  slot?: number;
}

/**
 * The board's MMIO map for `harts` harts and `virtioDevices` virtio devices, in device-tree order: the one
 * table both the machine's bus (vm.ts) and the device tree (buildDeviceTree) are made from. With `flash`, the
 * two CFI flash banks as on QEMU's virt board (one entry: bank 0 at its base, bank 1 right after it).
 */
export function boardDevices(harts: number, virtioDevices: number, flash = false): BoardDevice[] {
  if (virtioDevices > VIRTIO_SLOTS) throw new RangeError(`at most ${VIRTIO_SLOTS} virtio devices fit the board, got ${virtioDevices}`);
  return [
    { kind: 'clint', name: 'clint', base: CLINT_BASE, size: CLINT_SIZE },
    { kind: 'plic', name: 'plic', base: PLIC_BASE, size: plicSize(2 * harts) },
    { kind: 'uart', name: 'uart0', base: UART0_BASE, size: UART0_SIZE, irq: UART0_IRQ },
    { kind: 'rtc', name: 'rtc', base: RTC_BASE, size: RTC_SIZE, irq: RTC_IRQ },
    { kind: 'vmgenid', name: 'vmgenid', base: VMGENID_BASE, size: VMGENID_SIZE, irq: VMGENID_IRQ },
    ...Array.from({ length: virtioDevices }, (_, i): BoardDevice => {
      const { base, irq } = virtioSlot(i);
      return { kind: 'virtio', name: `virtio${i}`, base, size: VIRTIO_MMIO_SIZE, irq, slot: i };
    }),
    { kind: 'syscon', name: 'syscon', base: SYSCON_BASE, size: SYSCON_SIZE },
    ...(flash ? [{ kind: 'flash', name: 'flash', base: FLASH_BASE, size: 2 * FLASH_BANK_SIZE } as const] : []),
  ];
}

export interface BoardConfig {
  harts: number;
  ramSize: number;
  features: HartFeatures;
  bootargs: string;
  initrd?: { start: number; end: number };
  rngSeed: Uint8Array;
  /** virtio-mmio slots in use (0..n-1); the guest probes them in this order (vda before vdb). */
  virtioDevices?: number;
  /** The two CFI flash banks are there (boardDevices). */
  flash?: boolean;
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

  for (const d of boardDevices(c.harts, c.virtioDevices ?? 0, c.flash)) NODES[d.kind](f, d, { intc, plic, test });

  f.end(); // soc
  f.end(); // root
  return f.finish({ bootCpuId: 0 });
}

/** Phandles the nodes refer to: each hart's interrupt controller, the PLIC, the syscon (test) device. */
interface Phandles {
  intc: number[];
  plic: number;
  test: number;
}

/** How the device tree describes each kind of board device (Linux RISC-V bindings). */
const NODES: Record<BoardDeviceKind, (f: FdtWriter, d: BoardDevice, p: Phandles) => void> = {
  clint(f, d, p) {
    f.begin(`clint@${unit(d.base)}`);
    f.propStrings('compatible', ['sifive,clint0', 'riscv,clint0']);
    f.propCells('reg', reg(d.base, d.size));
    f.propCells('interrupts-extended', p.intc.flatMap((h) => [h, 3, h, 7])); // MSI, MTI per hart
    f.end();
  },
  plic(f, d, p) {
    f.begin(`plic@${unit(d.base)}`);
    f.propStrings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
    f.propCells('reg', reg(d.base, d.size));
    f.propU32('#address-cells', 0);
    f.propU32('#interrupt-cells', 1);
    f.propEmpty('interrupt-controller');
    f.propU32('riscv,ndev', PLIC_SOURCES - 1);
    f.propCells('interrupts-extended', p.intc.flatMap((h) => [h, 11, h, 9])); // contexts 2h (M), 2h+1 (S)
    f.propU32('phandle', p.plic);
    f.end();
  },
  uart: (f, d, p) => interruptingNode(f, `serial@${unit(d.base)}`, 'ns16550a', d, p, () => f.propU32('clock-frequency', 3686400)),
  rtc: (f, d, p) => interruptingNode(f, `rtc@${unit(d.base)}`, 'google,goldfish-rtc', d, p),
  vmgenid: (f, d, p) => interruptingNode(f, `vmgenid@${unit(d.base)}`, 'microsoft,vmgenid', d, p),
  virtio: (f, d, p) => interruptingNode(f, `virtio_mmio@${unit(d.base)}`, 'virtio,mmio', d, p),
  // both banks in one node, as QEMU describes them (Linux's physmap-of and EDK2's VirtNorFlash read its reg)
  flash(f, d) {
    f.begin(`flash@${unit(d.base)}`);
    f.propString('compatible', 'cfi-flash');
    f.propCells('reg', [...reg(d.base, d.size / 2), ...reg(d.base + d.size / 2, d.size / 2)]);
    f.propU32('bank-width', FLASH_BANK_WIDTH);
    f.end();
  },
  // the test device, and the poweroff and reboot nodes that write its register
  syscon(f, d, p) {
    f.begin(`test@${unit(d.base)}`);
    f.propStrings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
    f.propCells('reg', reg(d.base, d.size));
    f.propU32('phandle', p.test);
    f.end();
    for (const [node, value] of [['poweroff', 0x5555], ['reboot', 0x7777]] as const) {
      f.begin(node);
      f.propString('compatible', `syscon-${node}`);
      f.propU32('regmap', p.test);
      f.propU32('offset', 0);
      f.propU32('value', value);
      f.end();
    }
  },
};

/** A device node with one MMIO window and one PLIC interrupt (and `extra` properties after its reg). */
function interruptingNode(f: FdtWriter, name: string, compatible: string, d: BoardDevice, p: Phandles, extra?: () => void): void {
  f.begin(name);
  f.propString('compatible', compatible);
  f.propCells('reg', reg(d.base, d.size));
  extra?.();
  f.propU32('interrupts', d.irq!);
  f.propU32('interrupt-parent', p.plic);
  f.end();
}
