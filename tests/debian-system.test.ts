// A full Debian system under tvisor (issue 17, items 2 and 3): an image made by `tvisor image build --distro
// debian` (cached: tests/lib/debian.ts) boots with Debian's own kernel and initrd taken from its /boot by
// `tvisor run --disk`, systemd reaches multi-user.target, networking comes up by DHCP through --net user, the
// guest fetches a file from an HTTP server this test runs on the host, SSH reaches it through a forwarded
// port, apt-get installs a package from the Debian archive (netcat), which then serves a file through another
// forwarded port; a reboot comes back, poweroff ends the VM with status 0. Bad input: a disk whose /boot has no
// kernel, an unknown --distro. U-Boot (Debian's u-boot-qemu, S-mode, through OpenSBI) boots the same system from a
// partitioned copy of the disk through the extlinux.conf it finds there; EDK2 (Debian's qemu-efi-riscv64, in CFI
// flash) boots Debian's GRUB from the EFI system partition of a GPT copy, which boots the system; a UEFI variable
// Linux sets is in the variable store's file and there again at the next boot (issue 18).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { debianImage, GuestShell, type DebianImage } from './lib/debian.js';
import { api, collectConsole, startDaemon, stopDaemon, typeLine, waitFor } from './lib/daemon.js';
import { defaultCacheDir } from '../src/images/node/guest.js';
import { killOnExit } from './lib/children.js';
import { debianFile } from './lib/debian-file.js';
import { ensureDefaultGuest } from '../src/images/index.js';
import { cliPath, e2fsTool, freePort, tempDir } from './lib/toolchain.js';

// looked up on $PATH (and /usr/sbin, where debootstrap lives): ssh has no --version for hasTool to run
const needs = ['debootstrap', 'passt', 'ssh', 'ssh-keygen'].filter((t) => !e2fsTool(t));
const skip = needs.length === 0 ? false : process.env.CI === 'true' ? false : `not installed: ${needs.join(', ')}`;

describe('a Debian system built by tvisor image build --distro debian', { skip }, () => {
  let image: DebianImage;
  let work: string;
  let vm: ChildProcess;
  let sh: GuestShell;
  let http: Server;
  let httpPort: number;
  let sshPort: number;
  let webPort: number;

  before(async () => {
    image = await debianImage();
    work = tempDir('tvisor-debian-');
    http = createServer((req, res) => res.end(req.url === '/hello.txt' ? 'hello from the host to Debian\n' : 'no\n'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    httpPort = (http.address() as AddressInfo).port;
    sshPort = await freePort();
    webPort = await freePort();
    vm = spawn(process.execPath, [
      cliPath, 'run', '--disk', `${image.path},overlay=${join(work, 'overlay')}`, '--memory', '1G', '--vcpus', '2',
      '--net', `user,hostfwd=tcp::${sshPort}-:22,hostfwd=tcp::${webPort}-:8080`,
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    killOnExit(vm);
    let err = '';
    vm.stderr!.on('data', (d) => (err += d));
    vm.on('close', () => err && process.stderr.write(`# tvisor run's stderr:\n${err.replace(/^/gm, '# ')}\n`));
    sh = new GuestShell(vm);
  });

  after(async () => {
    if (vm && vm.exitCode === null) vm.kill('SIGKILL');
    http?.close();
  });

  test('boots Debian\'s kernel and initrd from the disk to multi-user.target, with 2 vCPUs', async () => {
    // the console logs root in (the image's autologin); kernel messages then stay off the console
    await sh.waitFor(/root@debian:~# /, 1_200_000);
    // a wide terminal: readline redraws a line longer than the width, which would garble the echo
    await sh.ok('stty cols 1000; dmesg -n 1');
    const state = await sh.run('systemctl is-system-running --wait', 600_000);
    const failed = state.output.includes('running') ? '' : await sh.ok('systemctl --failed --no-legend');
    assert.match(state.output, /^running/m, `the system is not running cleanly:\n${state.output}\n${failed}`);
    assert.match(await sh.ok('systemctl is-active multi-user.target'), /^active/m);
    process.stderr.write(`# ${(await sh.ok('systemd-analyze')).trim().replace(/\n/g, '\n# ')}\n`);
    assert.match(await sh.ok('nproc'), /^2$/m);
    assert.match(await sh.ok('uname -r; cat /proc/cmdline'), /riscv64[\s\S]*root=UUID=/);
    assert.match(await sh.ok('journalctl -b --no-pager -q -u systemd-networkd | tail -n 5'), /eth0|en/);
  });

  test('DHCP through --net user, and a file fetched from an HTTP server on the host', async () => {
    assert.match(await sh.ok('ip -4 -o addr show scope global'), /inet \d+\.\d+\.\d+\.\d+\/\d+ /);
    // the route networkd set from the lease (passt's leases do not expire, so the address is not marked dynamic)
    assert.match(await sh.ok('ip -4 route show default'), /^default via \d+\.\d+\.\d+\.\d+ dev \S+ proto dhcp/m, 'no default route from DHCP');
    assert.match(await sh.ok('journalctl -b --no-pager -q -u systemd-networkd'), /DHCPv4 address \d+\.\d+\.\d+\.\d+\/\d+/);
    const gw = (await sh.ok("ip route show default | awk '{print $3; exit}'")).trim();
    assert.match(gw, /^\d+\.\d+\.\d+\.\d+$/);
    // bash's /dev/tcp: the image has no HTTP client of its own but apt's
    const body = await sh.ok(`exec 3<>/dev/tcp/${gw}/${httpPort} && printf 'GET /hello.txt HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3; exec 3<&-`);
    assert.match(body, /hello from the host to Debian/);
  });

  test('ssh into the guest through a forwarded port (the key baked in by --ssh-key); systemctl and journalctl answer', async () => {
    const ssh = spawnSync('ssh', [
      '-i', image.sshKey, '-p', String(sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=60', 'root@127.0.0.1',
      'hostname; systemctl is-active ssh.service; journalctl -b --no-pager -q -u ssh.service | grep -c "Accepted publickey"',
    ], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(ssh.status, 0, `ssh failed: ${ssh.stderr}`);
    assert.match(ssh.stdout, /^debian\nactive\n[1-9]/);
  });

  test('apt-get update and install from the Debian archive; the package serves a file through a forwarded port', async () => {
    await sh.ok('apt-get update -q', 1_200_000);
    // a small package whose installation triggers nothing slow (busybox's would make a new initrd)
    await sh.ok('DEBIAN_FRONTEND=noninteractive apt-get install -y -q netcat-openbsd', 1_200_000);
    await sh.ok(`(while :; do printf 'HTTP/1.0 200 OK\\r\\n\\r\\nserved by netcat-openbsd from the archive\\n' | nc -l -N 8080; done) >/dev/null 2>&1 &`);
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${webPort}/`).then((r) => r.text()).catch(() => '');
      if (body === '') await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(body, 'served by netcat-openbsd from the archive\n');
  });

  test('a reboot comes back to the shell; poweroff ends the VM with status 0', async () => {
    const from = sh.out.length;
    // systemctl returns at once (a prompt may follow before the system goes down): wait for the new boot
    vm.stdin!.write('systemctl reboot\n');
    const booted = await sh.waitFor(/Linux version \S+/, 600_000, from);
    await sh.waitFor(/root@debian:~# /, 1_200_000, from + booted.index);
    await sh.ok('stty cols 1000; dmesg -n 1');
    assert.match(await sh.ok('systemctl is-system-running --wait', 600_000), /running/);
    const status = new Promise<number | null>((r) => vm.on('close', r));
    vm.stdin!.write('poweroff\n');
    assert.equal(await status, 0);
  });
});

describe('the same Debian disk as a daemon VM', { skip }, () => {
  test('tvisor create --disk takes the kernel and initrd from its /boot; the VM boots to a running system and powers off', async () => {
    const image = await debianImage();
    const work = tempDir('tvisor-debian-daemon-');
    const d = await startDaemon(join(work, 'state'), ['--pcpus', '2', '--allow-dir', work, '--allow-dir', dirname(image.path), '--allow-dir', join(defaultCacheDir(), 'boot')]);
    try {
      const created = spawnSync(process.execPath, [
        cliPath, 'create', 'deb', '--api', d.url, '--disk', `${image.path},overlay=${join(work, 'overlay')}`, '--memory', '1G', '--vcpus', '2', '--nic', 'user',
      ], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stderr, /booting Linux \S+ from .*'s \/boot\/vmlinux-\S+ and \/boot\/initrd\.img-/);
      const id = created.stdout.trim();
      const vm = (await api(d, 'GET', `/v1/vms/${id}`)).json;
      assert.match(vm.config.kernel, /\/boot\/[0-9a-f]{16}-vmlinux-/);
      assert.match(vm.config.cmdline, /^console=ttyS0 root=UUID=[0-9a-f-]{36} ro$/);
      const con = await collectConsole(d, id);
      assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
      await con.waitFor(/root@debian:~# /, 1_200_000);
      await typeLine(d, id, 'dmesg -n 1; systemctl is-system-running --wait; echo "state-$(systemctl is-active multi-user.target)-done"');
      await con.waitFor(/state-active-done/, 600_000);
      await typeLine(d, id, 'poweroff');
      await waitFor(d, id, (v) => v.state === 'stopped', 'the VM stopped after poweroff', 600_000);
      con.close();
    } finally {
      await stopDaemon(d);
      spawnSync('rm', ['-rf', work]);
    }
  });
});

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

describe('bad input to a Debian disk boot and build', () => {
  test('a disk whose /boot holds no kernel is refused with what to do', { skip: e2fsTool('mke2fs') ? false : 'no mke2fs' }, () => {
    const dir = tempDir('tvisor-nokernel-');
    try {
      mkdirSync(join(dir, 'tree', 'boot'), { recursive: true });
      writeFileSync(join(dir, 'tree', 'boot', 'config-6.12'), 'x');
      const disk = join(dir, 'nokernel.img');
      assert.equal(spawnSync(e2fsTool('mke2fs')!, ['-q', '-t', 'ext4', '-d', join(dir, 'tree'), disk, '8M']).status, 0);
      const r = spawnSync(process.execPath, [cliPath, 'run', '--disk', disk], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /nokernel\.img has no kernel in \/boot \(vmlinux-VERSION or vmlinuz-VERSION\): install one in the guest \(apt-get install linux-image-riscv64\), or boot it with --kernel and --initrd/);
    } finally {
      spawnSync('rm', ['-rf', dir]);
    }
  });

  test('an unknown --distro is a usage error naming the choices', () => {
    const r = spawnSync(process.execPath, [cliPath, 'image', 'build', '--distro', 'arch'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown --distro 'arch' \(expected 'default' or 'debian'\)/);
  });
});
