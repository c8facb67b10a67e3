// Firmware as QEMU's virt board takes it (issue 18): `firmware: 'none'` starts the kernel itself in M-mode on
// every hart (QEMU's -bios none, how xv6 boots), and firmware may be an ELF loaded where it is linked as well
// as a raw binary run from the start of RAM; bad firmware is refused with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm, BootError } from './vm.js';
import { parseFirmware } from './linux.js';
import { tinyElf, tinyImage } from './test-images.js';
import { RAM_BASE } from './board.js';
import { S } from '../cpu/state.js';

const MiB = 2 ** 20;
const SPIN = 0x0000006f; // j .

/** An ELF executable of `code` at physical (and virtual) address `addr`. */
const elf = (addr: bigint, code: number[], entry = addr): Uint8Array => tinyElf({ addr, code, entry });

const pc = (vm: Vm, i: number) => vm.harts[i].s[S.PC] >>> 0;
const vmOf = (over: Partial<ConstructorParameters<typeof Vm>[0]>) => new Vm({
  memory: 16 * MiB, cpus: 1, kernel: tinyImage([SPIN]), cmdline: '', console: () => {}, random: (n) => new Uint8Array(n), ...over,
});

test('firmware none: every hart starts the kernel ELF in M-mode at its entry, a0 = hart id, a1 = the device tree', () => {
  // xv6's kernel/kernel: linked at 0x80000000, entered there on every hart in M-mode
  const vm = vmOf({ cpus: 3, firmware: 'none', kernel: elf(0x8000_0000n, [0x00000013, SPIN], 0x8000_0004n) });
  vm.runSlice(1e6);
  for (let i = 0; i < 3; i++) {
    const h = vm.harts[i];
    assert.equal(pc(vm, i), RAM_BASE + 4, `hart ${i} at the ELF's entry`);
    assert.equal(h.s[S.PRIV], 3, `hart ${i} in M-mode`);
    assert.equal(h.x[20], i, 'a0 = mhartid');
    assert.equal(h.x[22] >>> 0, RAM_BASE + 16 * MiB - 64 * 1024, 'a1 = the device tree at the top of RAM');
    assert.equal(h.waiting, false, 'no hart waits for an SBI start: there is no SBI');
  }
  assert.equal(vm.ram.view(RAM_BASE, 4)[0], 0x13, 'loaded where it is linked');
});

test('firmware none takes a raw binary too (run from the start of RAM), and boots it again at a guest reboot', () => {
  // hart 0 asks the syscon for a reset (0x7777 at 0x100000), then spins; hart 1 spins
  const program = () => new Uint8Array(Uint32Array.of(0xf1402573, 0x00051a63, 0x001002b7, 0x00007337, 0x7773031b, 0x0062a023, SPIN).buffer);
  let reloads = 0;
  const vm = vmOf({
    cpus: 2, firmware: 'none', kernel: program(),
    reloadImages: () => {
      reloads++;
      return { kernel: program(), firmware: 'none' };
    },
  });
  for (let i = 0; i < 20 && reloads < 2; i++) assert.equal(vm.runSlice(1e6).exit, null);
  assert.ok(reloads >= 2, `rebooted into the same program (${reloads} reloads)`);
  assert.equal(vm.harts[1].s[S.PRIV], 3, 'every hart back in M-mode');
  assert.equal(pc(vm, 1), RAM_BASE, 'at the start of the program');
  assert.equal(vm.harts[1].x[20], 1);
});

test('ELF firmware is loaded where it is linked and entered at its entry; the kernel goes in fw_dynamic_info', () => {
  const fw = elf(0x8000_0000n, [0x00000013, 0x00000013, SPIN], 0x8000_0008n);
  const vm = vmOf({ firmware: fw });
  vm.runSlice(1e6);
  assert.equal(pc(vm, 0), RAM_BASE + 8);
  assert.equal(vm.harts[0].s[S.PRIV], 3);
  const info = new DataView(vm.ram.view(vm.harts[0].x[24] >>> 0, 48).slice().buffer);
  assert.equal(info.getBigUint64(0, true), 0x4942534fn, 'a2 = fw_dynamic_info');
  assert.equal(info.getBigUint64(16, true), BigInt(RAM_BASE + 0x200000), 'next_addr = the kernel Image at RAM + 2 MiB');
});

test('bad firmware is refused with a reason', () => {
  assert.throws(() => parseFirmware(new Uint8Array(0), RAM_BASE), (e) => e instanceof BootError && /firmware file is empty/.test(e.message));
  assert.throws(() => parseFirmware(elf(0x1000n, [SPIN]), RAM_BASE), (e) => e instanceof BootError && /firmware has a segment at physical address 0x1000, outside RAM/.test(e.message));
  // an ELF firmware reaching into the kernel's place (RAM + 2 MiB) would be overwritten by it
  const big = elf(0x801f_fff8n, [0x13, 0x13, 0x13, SPIN]);
  assert.throws(() => vmOf({ firmware: big }), (e) => e instanceof BootError && /firmware \(RAM \+ 0x1ffff8 to 0x200008\) overlaps the kernel at RAM \+ 0x200000/.test(e.message));
  const raw = parseFirmware(Uint8Array.of(1, 2, 3, 4), RAM_BASE);
  assert.deepEqual([raw.format, raw.entryOffset, raw.endOffset], ['raw', 0, 4]);
});
