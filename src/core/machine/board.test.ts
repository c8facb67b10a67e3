// One table, two products: the bus a Vm maps and the device tree it hands the guest both come from
// boardDevices(), so every MMIO window the guest is told about is where a device answers, and no other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boardDevices, buildDeviceTree, VIRTIO_SLOTS } from './board.js';
import { fdtCells, fdtFind, parseFdt } from './fdt.js';
import { Vm, hartFeatures } from './vm.js';
import { idleKernel } from './test-images.js';
import { VirtioRng } from '../virtio/rng/rng.js';

/** The soc nodes with a reg property: base, size and interrupt (if any), in tree order. */
function windowsInTree(dtb: Uint8Array): { base: number; size: number; irq?: number }[] {
  const soc = fdtFind(parseFdt(dtb), '/soc')!;
  return soc.children.filter((n) => n.props.has('reg')).map((n) => {
    const [bh, bl, sh, sl] = fdtCells(n.props.get('reg')!);
    const irq = n.props.get('interrupts');
    return { base: bh * 2 ** 32 + bl, size: sh * 2 ** 32 + sl, ...(irq ? { irq: fdtCells(irq)[0] } : {}) };
  });
}

test('the device tree describes exactly the board\'s table, in its order', () => {
  for (const harts of [1, 3, 8]) {
    for (const virtio of [0, 1, VIRTIO_SLOTS]) {
      const dtb = buildDeviceTree({ harts, ramSize: 64 << 20, features: hartFeatures(), bootargs: '', rngSeed: new Uint8Array(8), virtioDevices: virtio });
      const table = boardDevices(harts, virtio).map(({ base, size, irq }) => ({ base, size, ...(irq !== undefined ? { irq } : {}) }));
      assert.deepEqual(windowsInTree(dtb), table, `${harts} harts, ${virtio} virtio devices`);
    }
  }
});

test('the board\'s windows do not overlap and its interrupts are distinct; too many virtio devices are refused', () => {
  const table = boardDevices(8, VIRTIO_SLOTS).slice().sort((a, b) => a.base - b.base);
  for (let i = 1; i < table.length; i++) assert.ok(table[i - 1].base + table[i - 1].size <= table[i].base, `${table[i - 1].name} overlaps ${table[i].name}`);
  const irqs = table.flatMap((d) => (d.irq === undefined ? [] : [d.irq]));
  assert.equal(new Set(irqs).size, irqs.length);
  assert.throws(() => boardDevices(1, VIRTIO_SLOTS + 1), /at most 32 virtio devices/);
});

test('a Vm maps its bus from the same table, and puts its dtb in front of the guest', () => {
  const rng = () => new VirtioRng((n) => new Uint8Array(n));
  const vm = new Vm({ memory: 16 << 20, cpus: 2, kernel: idleKernel(), cmdline: '', console: () => {}, random: (n) => new Uint8Array(n), devices: [rng(), rng()], jit: 'off' });
  const bus = vm.mmioLayout().map(({ base, size }) => ({ base, size })).sort((a, b) => a.base - b.base);
  const table = boardDevices(2, 2).map(({ base, size }) => ({ base, size })).sort((a, b) => a.base - b.base);
  assert.deepEqual(bus, table);
  assert.deepEqual(windowsInTree(vm.dtb).map(({ base, size }) => ({ base, size })).sort((a, b) => a.base - b.base), table);
});
