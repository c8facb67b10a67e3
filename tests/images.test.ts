// Integration test for `tvisor image pull` against the real Debian archive (the mirror from the host's APT
// sources): downloads about 115 MB into a temporary cache, or reuses $TVISOR_CACHE when set so that CI runs
// can share one cache. Checks the kernel Image, the initramfs contents and the warm and offline pulls, then
// boots the guest in QEMU (when installed) with an /autorun.sh that checks the modules really load.
// Skips, with the reason, when there is no cached guest and no way to reach a Debian mirror.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildInitramfs, currentGuest, readCpio, readGuestParts, type GuestImage } from '../src/images/index.js';
import { readModinfo } from '../src/images/modinfo.js';
import { hostDebianMirror } from '../src/images/node/host.js';
import { fetchBytes } from '../src/images/node/http.js';
import { cliPath, hasTool, tempDir } from './lib/toolchain.js';

const SHARED_CACHE = process.env.TVISOR_CACHE;
const cacheDir = SHARED_CACHE ?? tempDir('tvisor-images-');
const MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_net', 'net_failover', 'failover', 'virtio_rng', 'virtio_balloon',
  'ext4', 'jbd2', 'mbcache', 'crc16'];

function tvisor(args: string[], timeoutMs: number): Promise<{ status: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Why the test cannot run here, or undefined when it can. */
async function skipReason(): Promise<string | undefined> {
  if (await currentGuest({ cacheDir })) return undefined;
  const mirror = hostDebianMirror();
  if (!mirror) return 'no cached guest, and no Debian mirror in the APT sources';
  try {
    await fetchBytes(`${mirror}/dists/trixie/Release.gpg`, { stallMs: 15_000 });
    return undefined;
  } catch (e) {
    return `no cached guest, and the Debian mirror is unreachable (${e instanceof Error ? e.message : String(e)})`;
  }
}

const reason = await skipReason();

describe('tvisor image pull (real Debian archive)', { skip: reason ?? false }, () => {
  let guest: GuestImage;
  let cold: { status: number; stdout: string; stderr: string; ms: number };

  before(async () => {
    cold = await tvisor(['image', 'pull', '--cache', cacheDir], 30 * 60_000);
    guest = (await currentGuest({ cacheDir }))!;
  });
  after(() => {
    if (!SHARED_CACHE) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('pulls and builds the default guest', () => {
    assert.equal(cold.status, 0, cold.stderr);
    assert.ok(guest, 'no current guest after the pull');
    assert.match(cold.stdout, /^kernel +\/.*\/Image$/m);
    assert.match(cold.stdout, new RegExp(`^version +Linux ${guest.kernelVersion.replace(/[+.]/g, '\\$&')} `, 'm'));
    process.stderr.write(`# image pull (${SHARED_CACHE ? 'shared cache' : 'cold'}): ${(cold.ms / 1000).toFixed(1)} s\n`);
  });

  it('has a RISC-V Linux Image, OpenSBI firmware and busybox', () => {
    const kernel = readFileSync(guest.kernel);
    assert.equal(kernel.subarray(0, 2).toString('latin1'), 'MZ');
    assert.equal(kernel.subarray(0x38, 0x3c).toString('latin1'), 'RSC\x05');
    assert.ok(kernel.length > 10 << 20, `kernel is only ${kernel.length} bytes`);
    assert.match(guest.kernelVersion, /^\d+\.\d+\.\d+.*-riscv64$/);
    const firmware = readFileSync(guest.firmware);
    assert.ok(firmware.length > 64 << 10 && firmware.length < 4 << 20, `fw_dynamic.bin is ${firmware.length} bytes`);
    assert.ok(firmware.includes('OpenSBI'), 'fw_dynamic.bin does not mention OpenSBI');
  });

  it('has an initramfs with /init, busybox and the modules in dependency order', () => {
    const entries = readCpio(new Uint8Array(readFileSync(guest.initrd)));
    const get = (name: string) => entries.find((e) => e.name === name);
    assert.ok(get('init'));
    const busybox = get('bin/busybox')!.data;
    assert.deepEqual([...busybox.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.equal(busybox[18] | (busybox[19] << 8), 243, 'busybox is not a RISC-V ELF');
    const moddir = `lib/modules/${guest.kernelVersion}`;
    const order = new TextDecoder().decode(get(`${moddir}/load-order`)!.data).trim().split('\n').map((f) => f.replace(/\.ko$/, ''));
    for (const m of MODULES) assert.ok(order.includes(m), `${m} missing from ${order.join(' ')}`);
    for (const [i, name] of order.entries()) {
      const info = readModinfo(get(`${moddir}/${name}.ko`)!.data);
      assert.equal(info.name, name);
      const vermagic = info.entries.find(([k]) => k === 'vermagic')?.[1] ?? '';
      assert.ok(vermagic.startsWith(`${guest.kernelVersion} `), `${name}: vermagic '${vermagic}'`);
      for (const dep of info.depends) assert.ok(order.indexOf(dep) >= 0 && order.indexOf(dep) < i, `${dep} must load before ${name}`);
    }
    if (hasTool('cpio')) {
      const list = spawnSync('cpio', ['-it', '--quiet', '-F', guest.initrd], { encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      const names = list.stdout.split('\n');
      assert.ok(names.includes('init'));
      for (const m of MODULES) assert.ok(names.includes(`${moddir}/${m}.ko`), m);
    }
    process.stderr.write(`# initramfs: ${readFileSync(guest.initrd).length} bytes, modules: ${order.join(' ')}\n`);
  });

  it('pulls again from the cache without downloading packages, and offline', async () => {
    const warm = await tvisor(['image', 'pull', '--cache', cacheDir], 10 * 60_000);
    assert.equal(warm.status, 0, warm.stderr);
    assert.match(warm.stderr, /is up to date/);
    assert.doesNotMatch(warm.stderr, /linux-image-.*: .* in /, 'the kernel package was downloaded again');
    const offline = await tvisor(['image', 'pull', '--offline', '--cache', cacheDir], 10 * 60_000);
    assert.equal(offline.status, 0, offline.stderr);
    assert.equal(offline.stdout, warm.stdout);
    const ls = await tvisor(['image', 'ls', '--cache', cacheDir], 60_000);
    assert.equal(ls.status, 0, ls.stderr);
    assert.ok(ls.stdout.includes(`* ${guest.dir.split('/').pop()}`), ls.stdout);
    process.stderr.write(`# image pull warm: ${(warm.ms / 1000).toFixed(1)} s, offline: ${(offline.ms / 1000).toFixed(1)} s\n`);
  });

  it('boots in QEMU and loads the modules (autorun)', { skip: hasTool('qemu-system-riscv64') ? false : 'no qemu-system-riscv64' }, async () => {
    const dir = tempDir('tvisor-boot-');
    try {
      const withDisk = spawnSync('mkfs.ext4', ['-V']).status === 0;
      const disk = join(dir, 'disk.img');
      if (withDisk) {
        writeFileSync(disk, new Uint8Array(0));
        spawnSync('truncate', ['-s', '32M', disk]);
        const mk = spawnSync('mkfs.ext4', ['-q', '-F', disk], { encoding: 'utf8' });
        assert.equal(mk.status, 0, mk.stderr);
      }
      const script = [
        'echo "modules: $(cut -d" " -f1 /proc/modules | sort | tr "\\n" " ")"',
        'echo "host: $(hostname)"',
        'ls -1 /sys/class/net',
        withDisk ? 'mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo ext4-ok > /mnt/f && cat /mnt/f && umount /mnt' : 'true',
        'cat /sys/devices/virtual/misc/hw_random/rng_current',
        '',
      ].join('\n');
      const initrd = join(dir, 'initrd.cpio');
      writeFileSync(initrd, buildInitramfs({ ...(await readGuestParts(guest)), autorun: script }));
      const args = ['-M', 'virt', '-m', '512M', '-nographic', '-bios', guest.firmware, '-kernel', guest.kernel, '-initrd', initrd,
        '-append', 'console=ttyS0 quiet', '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0', '-device', 'virtio-rng-device',
        '-device', 'virtio-balloon-device'];
      if (withDisk) args.push('-drive', `file=${disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0');
      const boot = (argv: string[]) => new Promise<string>((resolve) => {
        execFile('qemu-system-riscv64', argv, { timeout: 180_000, maxBuffer: 16 << 20 }, (_e, stdout, stderr) => resolve(stdout + stderr));
      });
      const out = await boot(args);
      assert.match(out, /tvisor guest: Linux /, out);
      // init loads the drivers for the virtio devices present, with their dependencies, and nothing else
      const loaded = /modules: (.*)/.exec(out)?.[1].trim().split(' ') ?? [];
      const expected = ['virtio_mmio', 'failover', 'net_failover', 'virtio_net', 'virtio_rng', 'virtio_balloon'];
      if (withDisk) expected.push('virtio_blk', 'jbd2', 'mbcache', 'crc16', 'ext4');
      for (const m of expected) assert.ok(loaded.includes(m), `${m} not loaded: ${loaded.join(' ')}`);
      if (!withDisk) assert.ok(!loaded.includes('ext4'), `ext4 loaded without a disk: ${loaded.join(' ')}`);
      // tvisor.modules=all loads every module whatever the devices
      const all = await boot(args.map((a) => (a === 'console=ttyS0 quiet' ? 'console=ttyS0 quiet tvisor.modules=all' : a)));
      const loadedAll = /modules: (.*)/.exec(all)?.[1].trim().split(' ') ?? [];
      for (const m of MODULES) assert.ok(loadedAll.includes(m), `tvisor.modules=all: ${m} not loaded: ${loadedAll.join(' ')}`);
      assert.match(out, /host: tvisor/);
      assert.match(out, /^eth0\r?$/m);
      if (withDisk) assert.match(out, /^ext4-ok\r?$/m);
      assert.match(out, /virtio_rng\.0/);
      assert.match(out, /tvisor-autorun: exit 0/);
      assert.doesNotMatch(out, /cannot load/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
