// Guest reboots with images the host gives again (VmConfig.reloadImages): the Vm keeps no copy past boot,
// reloads at each reboot, and ends crashed with a clear reason when the files no longer fit the machine; boot
// files (BootFile) are read straight into guest RAM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from './vm.js';
import { tinyImage } from './test-images.js';
import type { BootFile } from './boot-file.js';

/** The guest asks the SBI for a cold reboot at once: a7 = SRST, a6 = 0, a0 = 1 (cold), a1 = 0, ecall, spin. */
const image = (): Uint8Array => tinyImage([0x535258b7, 0x35488893, 0x00000813, 0x00100513, 0x00000593, 0x00000073, 0x0000006f]);

test('a guest reboot reloads the images; a file that changed size ends the VM crashed', () => {
  let reloads = 0;
  let initrd = new Uint8Array(8192).fill(7);
  const vm = new Vm({
    memory: 16 * 2 ** 20, cpus: 1, kernel: image(), initrd, cmdline: '', console: () => {}, random: (n) => new Uint8Array(n),
    reloadImages: () => {
      reloads++;
      return { kernel: image(), initrd };
    },
  });
  for (let i = 0; i < 20 && reloads < 3; i++) assert.equal(vm.runSlice(1e6).exit, null);
  assert.ok(reloads >= 3, `the guest rebooted and the images were given again (${reloads} times)`);
  assert.ok(vm.ram.touchedBytes > 0);
  initrd = new Uint8Array(3 * 2 ** 20); // the initrd file grew: the layout no longer holds
  let exit = null;
  for (let i = 0; i < 20 && !exit; i++) exit = vm.runSlice(1e6).exit;
  assert.equal(exit?.kind, 'crashed');
  assert.match((exit as { reason: string }).reason, /cannot reboot: the kernel, initrd or firmware file changed since the VM started/);
});

test('boot files are read straight into guest RAM at each boot; a file that cannot be read ends the VM crashed', () => {
  const bytes = image();
  let reads = 0;
  let broken = false;
  let ramBuffer: ArrayBufferLike | undefined;
  const kernel = (): BootFile => ({
    size: bytes.length,
    read(into, position) {
      if (broken) throw new Error('/k is shorter than when the VM was set up');
      reads++;
      ramBuffer = into.buffer;
      into.set(bytes.subarray(position, position + into.length));
    },
  });
  const vm = new Vm({ memory: 16 * 2 ** 20, cpus: 1, kernel: kernel(), cmdline: '', console: () => {}, random: (n) => new Uint8Array(n), reloadImages: () => ({ kernel: kernel() }) });
  assert.equal(ramBuffer, vm.ram.memory.buffer, 'the read went into guest RAM itself');
  for (let i = 0; i < 20 && reads < 3; i++) assert.equal(vm.runSlice(1e6).exit, null);
  assert.ok(reads >= 3, `every reboot read the kernel again (${reads} reads)`);
  broken = true;
  let exit = null;
  for (let i = 0; i < 20 && !exit; i++) exit = vm.runSlice(1e6).exit;
  assert.equal(exit?.kind, 'crashed');
  assert.match((exit as { reason: string }).reason, /cannot reboot: \/k is shorter than when the VM was set up/);
});
