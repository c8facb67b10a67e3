// Guest reboots with images the host gives again (VmConfig.reloadImages): the Vm keeps no copy past boot,
// reloads at each reboot, and ends crashed with a clear reason when the files no longer fit the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from './vm.js';

/** A RISC-V Linux Image whose code (past the header) asks the SBI for a cold reboot at once (SRST type 1). */
function image(): Uint8Array {
  // code0 jumps over the 64-byte header to the code at 0x40: lui/addi a7 = SRST, a6 = 0, a0 = 1 (cold
  // reboot), a1 = 0, ecall, then spin
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0400006f, true); // j +0x40
  v.setBigUint64(8, 0x200000n, true); // text_offset
  v.setBigUint64(16, 4096n, true); // image_size
  b.set([0x52, 0x53, 0x43, 0x05], 0x38); // "RSC\x05"
  const code = [0x535258b7, 0x35488893, 0x00000813, 0x00100513, 0x00000593, 0x00000073, 0x0000006f];
  code.forEach((w, i) => v.setUint32(0x40 + 4 * i, w, true));
  return b;
}

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
