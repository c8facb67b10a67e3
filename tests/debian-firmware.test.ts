// Debian's own boot firmware under tvisor (issue 18, item 4), with the Debian system image of
// tests/debian-system.test.ts (tests/lib/debian.ts builds it once; a process wanting it meanwhile waits for that
// build): U-Boot (Debian's u-boot-qemu, S-mode, through OpenSBI) boots the system from a partitioned copy of the
// disk through the extlinux.conf it finds there; EDK2 (Debian's qemu-efi-riscv64, in CFI flash) boots Debian's GRUB
// from the EFI system partition of a GPT copy, which boots the system; a UEFI variable Linux sets is in the
// variable store's file and there again at the next boot. Both reach the root shell. The suite runs this file
// after the Debian system's, in the same stream beside the other files (LONG and ONE_STREAM in tests/lib/suite.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { debianImage, GuestShell } from './lib/debian.js';
import { killOnExit } from './lib/children.js';
import { debianFile } from './lib/debian-file.js';
import { ensureDefaultGuest } from '../src/images/index.js';
import { cliPath, e2fsTool, tempDir } from './lib/toolchain.js';

// the image's build needs debootstrap and ssh-keygen (looked up on $PATH and in /usr/sbin); the disks need
// e2fsprogs' debugfs, fdisk's sfdisk, mkfs.vfat and mtools. CI installs them all (.ci/run), so there a missing
// one fails the test.
const needs = ['debootstrap', 'ssh-keygen', 'debugfs', 'sfdisk', 'mkfs.vfat', 'mcopy'].filter((t) => !e2fsTool(t));
const skip = needs.length === 0 ? false : process.env.CI === 'true' ? false : `not installed: ${needs.join(', ')}`;

/** Runs debugfs (e2fsprogs) on an ext4 image: `request`'s output (with `write`, the image is changed). */
function debugfs(image: string, request: string, write = false): string {
  const tool = e2fsTool('debugfs');
  assert.ok(tool, 'debugfs (e2fsprogs) is needed');
  const r = spawnSync(tool, [...(write ? ['-w'] : []), '-R', request, image], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The kernel version in the image's /boot and its file system's UUID, for a bootloader's configuration. */
function bootInfo(image: string): { kernel: string; uuid: string } {
  const kernel = /vmlinux-(\S+)/.exec(debugfs(image, 'ls -l /boot'))?.[1];
  const uuid = /Filesystem UUID:\s+(\S+)/.exec(debugfs(image, 'stats'))?.[1];
  assert.ok(kernel && uuid, 'the image has a kernel in /boot and a UUID');
  return { kernel, uuid };
}

/**
 * The Debian image as a partitioned disk that boots through U-Boot: an MBR with one Linux partition at 1 MiB
 * holding the image's file system, whose /boot/extlinux/extlinux.conf names its kernel and initrd (what
 * Debian's u-boot-menu writes). Returns the disk's path.
 */
function extlinuxDisk(image: string, dir: string): { disk: string; kernel: string } {
  const root = join(dir, 'root.img');
  const cp = spawnSync('cp', ['--sparse=always', image, root], { encoding: 'utf8' });
  assert.equal(cp.status, 0, cp.stderr);
  const ask = (request: string, write = false) => debugfs(root, request, write);
  const { kernel, uuid } = bootInfo(root);
  writeFileSync(join(dir, 'extlinux.conf'), [
    'default debian', 'timeout 1', 'label debian', '  menu label Debian GNU/Linux, through U-Boot',
    `  linux /boot/vmlinux-${kernel}`, `  initrd /boot/initrd.img-${kernel}`, `  append root=UUID=${uuid} ro console=ttyS0 tvisor.via=extlinux`, '',
  ].join('\n'));
  ask('mkdir /boot/extlinux', true);
  ask(`write ${join(dir, 'extlinux.conf')} /boot/extlinux/extlinux.conf`, true);
  const bytes = statSync(root).size;
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, bytes + MBR_START * 512);
  const dd = spawnSync('dd', [`if=${root}`, `of=${disk}`, 'bs=1M', `seek=${MBR_START * 512 / 2 ** 20}`, 'conv=sparse,notrunc', 'status=none'], { encoding: 'utf8' });
  assert.equal(dd.status, 0, dd.stderr);
  rmSync(root);
  // the MBR: one primary partition, type 0x83 (Linux), active, from sector 2048 (MBR layout: entries at 446)
  const mbr = Buffer.alloc(512);
  mbr.writeUInt8(0x80, 446);
  mbr.writeUInt8(0x83, 446 + 4);
  mbr.writeUInt32LE(MBR_START, 446 + 8);
  mbr.writeUInt32LE(bytes / 512, 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const fd = openSync(disk, 'r+');
  writeSync(fd, mbr, 0, 512, 0);
  closeSync(fd);
  return { disk, kernel };
}
const MBR_START = 2048;

describe('U-Boot (Debian\'s u-boot-qemu, S-mode, through OpenSBI) boots the Debian disk\'s kernel from its extlinux.conf', { skip }, () => {
  test('to the root shell, with the command line extlinux.conf gave', async () => {
    const image = await debianImage();
    const log = (line: string) => process.stderr.write(`# ${line}\n`);
    const uboot = await debianFile('u-boot-qemu', 'usr/lib/u-boot/qemu-riscv64_smode/uboot.elf', log);
    log(`U-Boot from u-boot-qemu ${uboot.version}`);
    const guest = await ensureDefaultGuest({ log });
    const work = tempDir('tvisor-uboot-');
    try {
      const { disk, kernel } = extlinuxDisk(image.path, work);
      const vm = spawn(process.execPath, [
        cliPath, 'run', '--firmware', guest.firmware, '--kernel', uboot.file, '--memory', '1G', '--vcpus', '2',
        '--disk', `${disk},overlay=${join(work, 'overlay')}`,
      ], { stdio: ['pipe', 'pipe', 'pipe'] });
      killOnExit(vm);
      const sh = new GuestShell(vm);
      try {
        await sh.waitFor(/U-Boot 20\d\d/, 300_000);
        await sh.waitFor(/Found \/boot\/extlinux\/extlinux\.conf/, 600_000);
        await sh.waitFor(new RegExp(`Retrieving file: /boot/vmlinux-${kernel.replace(/[.+]/g, '\\$&')}`), 600_000);
        await sh.waitFor(/root@debian:~# /, 1_800_000);
        await sh.ok('stty cols 1000; dmesg -n 1');
        assert.match(await sh.ok('cat /proc/cmdline'), /root=UUID=\S+ ro console=ttyS0 tvisor\.via=extlinux/);
        assert.match(await sh.ok('findmnt -n -o SOURCE /'), /\/dev\/vda1/);
        const status = new Promise<number | null>((r) => vm.on('close', r));
        vm.stdin!.write('poweroff\n');
        assert.equal(await status, 0);
      } finally {
        vm.kill('SIGKILL');
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

/**
 * The Debian image as a GPT disk that boots through UEFI: an EFI system partition (FAT, 63 MiB at 1 MiB) holding
 * Debian's GRUB at the removable-media path EDK2 boots by default (\EFI\BOOT\BOOTRISCV64.EFI) and its grub.cfg
 * where that GRUB looks (its prefix is /EFI/debian), then the image's file system as the second partition.
 */
function uefiDisk(image: string, dir: string, grub: string): { disk: string; kernel: string } {
  const run = (cmd: string, args: string[], input?: string) => {
    const r = spawnSync(e2fsTool(cmd) ?? cmd, args, { encoding: 'utf8', input, env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const { kernel, uuid } = bootInfo(image);
  const esp = join(dir, 'esp.img');
  run('mkfs.vfat', ['-C', '-n', 'ESP', esp, String(ESP_MIB * 1024)]);
  run('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT', '::/EFI/debian']);
  run('mcopy', ['-i', esp, grub, '::/EFI/BOOT/BOOTRISCV64.EFI']);
  writeFileSync(join(dir, 'grub.cfg'), [
    'set timeout=1', `search --no-floppy --fs-uuid --set=root ${uuid}`,
    "menuentry 'Debian GNU/Linux, through GRUB' {", `  linux /boot/vmlinux-${kernel} root=UUID=${uuid} ro console=ttyS0 tvisor.via=grub`,
    `  initrd /boot/initrd.img-${kernel}`, '}', '',
  ].join('\n'));
  run('mcopy', ['-i', esp, join(dir, 'grub.cfg'), '::/EFI/debian/grub.cfg']);
  const bytes = statSync(image).size;
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, (1 + ESP_MIB + 1) * 2 ** 20 + bytes + 2 ** 20); // the backup GPT at the end
  run('sfdisk', ['-q', disk], [
    'label: gpt', `start=2048, size=${ESP_MIB * 2048}, type=U, name=ESP`, `start=${(1 + ESP_MIB + 1) * 2048}, size=${bytes / 512}, type=L, name=root`, '',
  ].join('\n'));
  run('dd', [`if=${esp}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=sparse,notrunc', 'status=none']);
  run('dd', [`if=${image}`, `of=${disk}`, 'bs=1M', `seek=${1 + ESP_MIB + 1}`, 'conv=sparse,notrunc', 'status=none']);
  rmSync(esp);
  return { disk, kernel };
}
const ESP_MIB = 63;

describe('EDK2 (Debian\'s qemu-efi-riscv64, in flash, through OpenSBI) boots GRUB from a GPT disk\'s EFI system partition, then Debian', { skip }, () => {
  test('to the root shell; a UEFI variable Linux sets is written to the variable store\'s file and read back at the next boot', async () => {
    const image = await debianImage();
    const log = (line: string) => process.stderr.write(`# ${line}\n`);
    const code = await debianFile('qemu-efi-riscv64', 'usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd', log);
    const varsTemplate = await debianFile('qemu-efi-riscv64', 'usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd', log);
    const grub = await debianFile('grub-efi-riscv64-unsigned', 'usr/lib/grub/riscv64-efi/monolithic/grubriscv64.efi', log);
    log(`EDK2 from qemu-efi-riscv64 ${code.version}, GRUB from grub-efi-riscv64-unsigned ${grub.version}`);
    const guest = await ensureDefaultGuest({ log });
    const work = tempDir('tvisor-uefi-');
    try {
      const { disk, kernel } = uefiDisk(image.path, work, grub.file);
      const vars = join(work, 'vars.fd');
      copyFileSync(varsTemplate.file, vars);
      const boot = () => {
        const vm = spawn(process.execPath, [
          cliPath, 'run', '--firmware', guest.firmware, '--flash', code.file, '--flash-vars', vars, '--memory', '1G',
          '--disk', `${disk},overlay=${join(work, 'overlay')}`,
        ], { stdio: ['pipe', 'pipe', 'pipe'] });
        killOnExit(vm);
        return { vm, sh: new GuestShell(vm), status: new Promise<number | null>((r) => vm.on('close', r)) };
      };
      // a variable of our own (attributes 7: non-volatile, boot and runtime access), through Linux's efivarfs
      const variable = '/sys/firmware/efi/efivars/TvisorTest-6f1c3a52-8d0e-4b7a-9c21-5e4f0a7b3d19';
      const first = boot();
      try {
        await first.sh.waitFor(/RISC-V EDK2 firmware version 20\d\d/, 600_000);
        await first.sh.waitFor(/GNU GRUB +version/, 600_000);
        await first.sh.waitFor(new RegExp(`Booting .Debian GNU/Linux, through GRUB`), 600_000);
        await first.sh.waitFor(/EFI stub: Booting Linux Kernel/, 600_000);
        await first.sh.waitFor(/root@debian:~# /, 1_800_000);
        await first.sh.ok('stty cols 1000; dmesg -n 1');
        assert.match(await first.sh.ok('cat /proc/cmdline'), new RegExp(`BOOT_IMAGE=/boot/vmlinux-${kernel.replace(/[.+]/g, '\\$&')} root=UUID=\\S+ ro console=ttyS0 tvisor\\.via=grub`));
        assert.match(await first.sh.ok('findmnt -n -o SOURCE /'), /\/dev\/vda2/);
        assert.match(await first.sh.ok('cat /sys/firmware/efi/fw_vendor 2>/dev/null | tr -d "\\0"; dmesg | grep -m1 "efi: EFI v"'), /EDK II/);
        await first.sh.ok(`printf '\\007\\000\\000\\000tvisor-uefi-42' > ${variable}`);
        assert.match(await first.sh.ok(`cat ${variable} | tail -c +5; echo`), /^tvisor-uefi-42$/m);
        first.vm.stdin!.write('poweroff\n');
        assert.equal(await first.status, 0);
      } finally {
        first.vm.kill('SIGKILL');
      }
      // the store's file holds it: EDK2 wrote it to flash bank 1 through its runtime services, tvisor to the file
      assert.ok(readFileSync(vars).includes(Buffer.from('tvisor-uefi-42')), 'the variable\'s data is in the variable store\'s file');
      const second = boot();
      try {
        await second.sh.waitFor(/root@debian:~# /, 1_800_000);
        await second.sh.ok('stty cols 1000; dmesg -n 1');
        assert.match(await second.sh.ok(`cat ${variable} | tail -c +5; echo`), /^tvisor-uefi-42$/m);
        second.vm.stdin!.write('poweroff\n');
        assert.equal(await second.status, 0);
      } finally {
        second.vm.kill('SIGKILL');
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
