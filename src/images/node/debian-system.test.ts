// The host's side of `tvisor image build --distro debian` (debian-system.ts) with a stand-in debootstrap and VM:
// what it passes debootstrap, the file system it makes for the second stage (read back with the ext4 reader),
// how it follows the second stage's console, and its errors. The real build, in a real guest, is
// tests/debian-system.test.ts's.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDebianSystem, secondStageScript, setupScript, type SystemOptions, type VmRunner } from './debian-system.js';
import { Ext4Reader } from '../ext4.js';
import { ImageError } from '../errors.js';
import { e2fsTool, tempDir } from '../../../tests/lib/toolchain.js';

const MKE2FS = e2fsTool('mke2fs');
const asRoot = process.getuid?.() === 0;
const skip = !MKE2FS ? 'mke2fs (e2fsprogs) is not installed' : !asRoot && !existsSync('/usr/bin/fakeroot') ? 'needs root or fakeroot' : false;

describe('image build --distro debian, on the host', { skip }, () => {
  const work = tempDir('tvisor-debian-system-');
  after(() => rmSync(work, { recursive: true, force: true }));
  const tools = join(work, 'bin');
  mkdirSync(tools);
  const argsFile = join(work, 'debootstrap.args');
  // debootstrap's stand-in: records its arguments, makes a first stage's tree (or fails as debootstrap does)
  writeFileSync(join(tools, 'debootstrap'), `#!/bin/sh
echo "$@" > ${argsFile}
if [ -n "$FAKE_DEBOOTSTRAP_FAIL" ]; then echo "I: Retrieving InRelease"; echo "E: Couldn't find these debs: nosuchpkg" >&2; exit 1; fi
for a; do suite="$target"; target="$mirror"; mirror="$a"; done
mkdir -p "$target/etc/dpkg/dpkg.cfg.d" "$target/debootstrap" "$target/boot" "$target/var/lib/apt/lists"
echo "second stage here" > "$target/debootstrap/debootstrap"
printf 'libc6 /var/cache/apt/archives/libc6_2.41-12_riscv64.deb\ndpkg /var/cache/apt/archives/dpkg_1.22_riscv64.deb\n' > "$target/debootstrap/debpaths"
printf 'Package: emacs\nDepends: libc6\n\nPackage: libc6\nVersion: 2.41-12\n\nPackage: libc6-dev\nDepends: libc6\n\nPackage: dpkg\nPre-Depends: libc6\nDescription: x\n more\n\n' > "$target/var/lib/apt/lists/deb.example_debian_dists_trixie_main_binary-riscv64_Packages"
echo "I: Retrieving libc6 2.41-12"; echo "I: Validating libc6 2.41-12"; echo "I: Retrieving dpkg 1.22"; echo "I: Validating dpkg 1.22"
echo "I: Extracting libc6..."; echo "I: Extracting dpkg..."
`, { mode: 0o755 });
  const kernel = join(work, 'Image');
  const initrd = join(work, 'initrd.cpio');
  writeFileSync(kernel, 'kernel');
  writeFileSync(initrd, new Uint8Array(512));
  let n = 0;

  function options(over: Partial<SystemOptions> & { runVm: VmRunner }): SystemOptions {
    return {
      output: join(work, `out${++n}.img`), size: 2 ** 30, mirror: 'http://deb.example/debian', keyrings: ['/usr/share/keyrings/test.gpg'],
      cacheDir: join(work, 'cache'), toolDirs: [tools, '/usr/sbin', '/sbin', '/usr/bin'], buildGuest: { kernel, initrd }, ...over,
    };
  }

  it('runs debootstrap --foreign, makes the disk, boots the second stage on it and keeps the disk when it ends with status 0', async () => {
    const lines: string[] = [];
    let booted: Parameters<VmRunner>[0] | undefined;
    let disk: Uint8Array | undefined;
    const opts = options({
      hostname: 'box', sshKey: 'ssh-ed25519 AAAAC3Nza test\n', packages: ['strace'], log: (l) => lines.push(l),
      runVm: async (vm, onConsole) => {
        booted = vm;
        disk = readFileSync(vm.disk);
        // split mid-line, as a console delivers it
        onConsole('[    1.0] Linux booting\r\nI: Installing core packages...\r\nI: Unpacking dpkg...\r\ntvisor-im');
        onConsole('age: second stage done in 5 s\r\ntvisor-autorun: exit 0\r\n');
        return { status: 0, stderr: '' };
      },
    });
    const image = await buildDebianSystem(opts);
    assert.equal(image.path, opts.output);
    assert.ok(existsSync(opts.output!), 'the image is where it was asked');
    assert.ok(!existsSync(`${opts.output}.build.log`), 'no console log kept after a success');
    const args = readFileSync(argsFile, 'utf8').trim().split(' ');
    assert.deepEqual(args.slice(0, 2), ['--foreign', '--arch=riscv64']);
    assert.ok(args.includes('--variant=minbase'));
    const include = args.find((a) => a.startsWith('--include='))!.slice(10).split(',');
    for (const p of ['systemd-sysv', 'udev', 'linux-image-riscv64', 'initramfs-tools', 'openssh-server', 'strace']) assert.ok(include.includes(p), p);
    assert.ok(args.includes(`--cache-dir=${join(work, 'cache', 'debootstrap')}`));
    assert.ok(args.includes('--keyring=/usr/share/keyrings/test.gpg'));
    assert.deepEqual(args.slice(-3).map((a, i) => (i === 1 ? 'TARGET' : a)), ['trixie', 'TARGET', 'http://deb.example/debian']);
    // the second stage's machine and its disk: the first stage's tree with tvisor's setup in it
    assert.equal(booted!.kernel, kernel);
    assert.equal(booted!.memory, 2 ** 30);
    assert.equal(booted!.vcpus, 1, 'one vCPU: the second stage is serial');
    const fs = Ext4Reader.open({ size: disk!.length, read: (o, len) => disk!.subarray(o, o + len) });
    assert.equal(fs.uuid, image.uuid);
    assert.equal(fs.label, 'debian-root');
    assert.equal(new TextDecoder().decode(fs.readFile('/debootstrap/debootstrap')), 'second stage here\n');
    const setup = new TextDecoder().decode(fs.readFile('/tvisor-setup.sh'));
    assert.match(setup, new RegExp(`UUID=${image.uuid}\t/\text4`));
    assert.match(setup, /echo box > \/etc\/hostname/);
    assert.match(setup, /ssh-ed25519 AAAAC3Nza test/);
    assert.equal(new TextDecoder().decode(fs.readFile('/etc/dpkg/dpkg.cfg.d/tvisor-build-unsafe-io')), 'force-unsafe-io\n');
    // the second stage sees the index of the packages it installs; the whole index waits for the setup
    const index = 'deb.example_debian_dists_trixie_main_binary-riscv64_Packages';
    assert.equal(new TextDecoder().decode(fs.readFile(`/var/lib/apt/lists/${index}`)), 'Package: libc6\nVersion: 2.41-12\n\nPackage: dpkg\nPre-Depends: libc6\nDescription: x\n more\n\n');
    assert.match(new TextDecoder().decode(fs.readFile(`/var/lib/apt/tvisor-full-lists/${index}`)), /^Package: emacs\n[^]*Package: libc6-dev\n/);
    assert.match(setup, /mv \/var\/lib\/apt\/tvisor-full-lists\/\* \/var\/lib\/apt\/lists\//);
    assert.ok(lines.some((l) => /package index: 2 of the archive's packages/.test(l)), lines.join('\n'));
    // the second stage's initrd is the build guest's with the script appended
    assert.equal(existsSync(booted!.initrd), false, 'the build files are removed afterwards');
    assert.deepEqual(lines.filter((l) => l.startsWith('debootstrap: ')), [
      'debootstrap: fetched and checked 2 packages', 'debootstrap: extracted 2 packages', 'debootstrap: Installing core packages...',
    ]);
    assert.ok(lines.includes('second stage done in 5 s'), lines.join('\n'));
  });

  it('keeps the console and names it when the second stage fails, and leaves no image', async () => {
    const opts = options({
      runVm: async (_vm, onConsole) => {
        onConsole('W: Failure while configuring base packages.\ndpkg: error processing package x (--configure)\ntvisor-autorun: exit 1\n');
        return { status: 0, stderr: '' };
      },
    });
    await assert.rejects(buildDebianSystem(opts), (e: Error) => {
      assert.ok(e instanceof ImageError);
      assert.match(e.message, new RegExp(`^the second stage failed \\(status 1\\); the guest's console is in ${opts.output}\\.build\\.log; its last lines:\\n`));
      assert.match(e.message, /dpkg: error processing package x/);
      return true;
    });
    assert.ok(!existsSync(opts.output!));
    assert.match(readFileSync(`${opts.output}.build.log`, 'utf8'), /W: Failure while configuring base packages/);
    // a VM that ends without the script's status
    const crashed = options({ runVm: async () => ({ status: 1, stderr: 'tvisor: the guest crashed: Kernel panic\n' }) });
    await assert.rejects(buildDebianSystem(crashed), /^ImageError: the build VM ended \(tvisor run status 1: tvisor: the guest crashed: Kernel panic\) before the second stage finished/);
  });

  it('says what is wrong: debootstrap failing or missing, --offline, an existing output', async () => {
    const never: VmRunner = async () => assert.fail('no VM');
    process.env.FAKE_DEBOOTSTRAP_FAIL = '1';
    try {
      await assert.rejects(buildDebianSystem(options({ runVm: never })), /^ImageError: debootstrap failed: Couldn't find these debs: nosuchpkg$/);
    } finally {
      delete process.env.FAKE_DEBOOTSTRAP_FAIL;
    }
    await assert.rejects(buildDebianSystem(options({ runVm: never, toolDirs: [join(work, 'none')] })), /debootstrap not found in .*; install it: apt-get install debootstrap/);
    await assert.rejects(buildDebianSystem(options({ runVm: never, offline: true })), /drop --offline/);
    const existing = join(work, 'exists.img');
    writeFileSync(existing, '');
    await assert.rejects(buildDebianSystem(options({ runVm: never, output: existing })), /exists\.img already exists; pass --force to replace it/);
  });

  it("writes scripts that dash and busybox sh parse", () => {
    for (const script of [secondStageScript(), setupScript({ uuid: 'u', hostname: 'h', sshKey: 'ssh-ed25519 AAAA k' }), setupScript({ uuid: 'u', hostname: 'h' })]) {
      const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  });
});
