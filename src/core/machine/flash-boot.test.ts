// Firmware in flash, as on QEMU's virt board (issue 18): the two CFI flash banks at 0x20000000 and 0x22000000,
// described in the device tree as QEMU does; code runs in place from bank 0 (the ROM window beside RAM, through
// the interpreter and the JIT alike), its data reads at any alignment; the guest programs bank 1 and the host is
// told each change (the variable store's file); with no kernel the next stage is bank 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm, BootError } from './vm.js';
import { RAM_BASE } from './board.js';
import { fdtCells, fdtFind, parseFdt } from './fdt.js';
import { flashTestImage, tinyElf } from './test-images.js';
import { FLASH_BANK_SIZE, FLASH_BASE } from '../devices/cfi-flash.js';
import type { JitMode } from '../jit/mode.js';

const MiB = 2 ** 20;
const SPIN = 0x0000006f; // j .

function flashVm(jit: JitMode, over: Partial<ConstructorParameters<typeof Vm>[0]> = {}) {
  const storage = new Uint8Array(FLASH_BANK_SIZE).fill(0xff);
  const written: [number, number][] = [];
  const vm = new Vm({
    memory: 16 * MiB, cpus: 1, kernel: new Uint8Array(0), cmdline: '', console: () => {}, random: (n) => new Uint8Array(n), jit,
    firmware: 'none', flash: { code: flashTestImage(), vars: { storage, written: (o, n) => written.push([o, n]) } }, ...over,
  });
  return { vm, storage, written };
}

for (const jit of ['off', 'all'] as const) {
  test(`code runs in place from flash bank 0 (JIT ${jit}), reads it at any alignment, programs bank 1 with the host told`, () => {
    const { vm, storage, written } = flashVm(jit);
    let exit = null;
    for (let i = 0; i < 50 && !exit; i++) exit = vm.runSlice(1e6).exit;
    assert.deepEqual(exit, { kind: 'poweroff', code: 0 });
    assert.equal(new DataView(vm.ram.view(RAM_BASE, 8).slice().buffer).getBigUint64(0, true), 0x1122334455667788n, 'the misaligned read from flash');
    assert.deepEqual([...storage.subarray(0x10, 0x14)], [0x78, 0x56, 0x34, 0x12], 'bank 1 programmed');
    assert.deepEqual(written, [[0x10, 4]], 'the host told which bytes changed');
    assert.equal(storage[0x14], 0xff, 'nothing else');
  });
}

test('the device tree describes both banks in one cfi-flash node, bank width 4; the bus answers there', () => {
  const { vm } = flashVm('off');
  const node = fdtFind(parseFdt(vm.dtb), `/soc/flash@${FLASH_BASE.toString(16)}`);
  assert.ok(node, 'a flash node');
  assert.equal(new TextDecoder().decode(node.props.get('compatible')!), 'cfi-flash\0');
  assert.deepEqual(fdtCells(node.props.get('reg')!), [0, FLASH_BASE, 0, FLASH_BANK_SIZE, 0, FLASH_BASE + FLASH_BANK_SIZE, 0, FLASH_BANK_SIZE]);
  assert.deepEqual(fdtCells(node.props.get('bank-width')!), [4]);
  const banks = vm.mmioLayout().filter((m) => m.name.startsWith('flash'));
  assert.deepEqual(banks.map(({ base, size, name }) => ({ base, size, name })), [
    { base: FLASH_BASE, size: FLASH_BANK_SIZE, name: 'flash0' },
    { base: FLASH_BASE + FLASH_BANK_SIZE, size: FLASH_BANK_SIZE, name: 'flash1' },
  ]);
  // without flash, no node and no bank
  const plain = new Vm({ memory: 16 * MiB, cpus: 1, kernel: tinyElf({ addr: 0x8000_0000n, code: [SPIN] }), firmware: 'none', cmdline: '', console: () => {}, random: (n) => new Uint8Array(n) });
  assert.equal(fdtFind(parseFdt(plain.dtb), `/soc/flash@${FLASH_BASE.toString(16)}`), undefined);
  assert.equal(plain.mmioLayout().filter((m) => m.name.startsWith('flash')).length, 0);
});

test('with M-mode firmware and no kernel, the firmware\'s next stage (fw_dynamic_info next_addr) is bank 0', () => {
  const fw = tinyElf({ addr: 0x8000_0000n, code: [SPIN] });
  const { vm } = flashVm('off', { firmware: fw });
  vm.runSlice(1e6);
  const info = new DataView(vm.ram.view(vm.harts[0].x[24] >>> 0, 48).slice().buffer);
  assert.equal(info.getBigUint64(0, true), 0x4942534fn, 'a2 = fw_dynamic_info');
  assert.equal(info.getBigUint64(16, true), BigInt(FLASH_BASE), 'next_addr = bank 0');
  assert.equal(info.getBigUint64(24, true), 1n, 'next_mode = S');
});

test('flash that does not fit is refused with a reason', () => {
  assert.throws(() => flashVm('off', { flash: { code: new Uint8Array(FLASH_BANK_SIZE + 1) } }),
    (e) => e instanceof BootError && /the flash image \(33554433 bytes\) is larger than a flash bank \(33554432 bytes\)/.test(e.message));
  assert.throws(() => flashVm('off', { flash: { code: new Uint8Array(16), vars: { storage: new Uint8Array(4096) } } }),
    (e) => e instanceof BootError && /flash bank 1 must be given all 33554432 bytes, got 4096/.test(e.message));
});

test('a machine with flash keeps its banks\' command state in a snapshot, and one without refuses such a record', () => {
  const { vm } = flashVm('off');
  for (let i = 0; i < 50 && !vm.runSlice(1e6).exit;) i++;
  const state = vm.saveState();
  assert.equal(state.flash?.length, 2);
  assert.equal(state.flash![1].mode, 'status', 'bank 1 answers status after the program');
  const again = flashVm('off').vm;
  again.restoreState(JSON.parse(JSON.stringify(state)));
  assert.deepEqual(again.saveState().flash, state.flash);
  const plain = new Vm({ memory: 16 * MiB, cpus: 1, kernel: tinyElf({ addr: 0x8000_0000n, code: [SPIN] }), firmware: 'none', cmdline: '', console: () => {}, random: (n) => new Uint8Array(n) });
  assert.throws(() => plain.restoreState(state), /saved with flash, restored without/);
});
