// A full Debian system under tvisor (issue 17, items 2 and 3): an image made by `tvisor image build --distro
// debian` (cached: tests/lib/debian.ts) boots with Debian's own kernel and initrd taken from its /boot by
// `tvisor run --disk`, systemd reaches multi-user.target, networking comes up by DHCP through --net user, the
// guest fetches a file from an HTTP server this test runs on the host, SSH reaches it through a forwarded
// port, apt-get installs a package from the Debian archive (netcat), which then serves a file through another
// forwarded port; a reboot comes back, poweroff ends the VM with status 0. The same disk as a daemon VM. Bad input:
// a disk whose /boot has no kernel, an unknown --distro. Debian's U-Boot and EDK2 booting the same image are
// tests/debian-firmware.test.ts (issue 18), which runs beside this file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { debianImage, GuestShell, type DebianImage } from './lib/debian.js';
import { api, collectConsole, startDaemon, stopDaemon, typeLine, waitFor } from './lib/daemon.js';
import { defaultCacheDir } from '../src/images/node/guest.js';
import { killOnExit } from './lib/children.js';
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
      body = await fetch(`http://127.0.0.1:${webPort}/`, { signal: AbortSignal.timeout(15_000) }).then((r) => r.text()).catch(() => '');
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
    // the new boot's (the first boot waited for every unit; here the shell after a new kernel is the point)
    assert.match(await sh.ok('systemctl is-active basic.target'), /^active/m);
    const status = new Promise<number | null>((r) => vm.on('close', r));
    vm.stdin!.write('poweroff\n');
    assert.equal(await status, 0);
  });
});

describe('the same Debian disk as a daemon VM', { skip }, () => {
  test('tvisor create --disk takes the kernel and initrd from its /boot; the VM boots to its root shell and powers off', async () => {
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
      // the first test waited for every unit of this disk's boot; here the daemon's way to the shell is the point
      await typeLine(d, id, 'dmesg -n 1; echo "kernel-$(uname -r)-$(findmnt -n -o SOURCE /)-done"');
      await con.waitFor(/kernel-\S+-riscv64-\/dev\/vda-done/, 600_000);
      await typeLine(d, id, 'poweroff');
      await waitFor(d, id, (v) => v.state === 'stopped', 'the VM stopped after poweroff', 600_000);
      con.close();
    } finally {
      await stopDaemon(d);
      spawnSync('rm', ['-rf', work]);
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
