// The virtio devices driven by the real Debian kernel (stock virtio_mmio, virtio_blk, virtio_net, virtio_rng,
// virtio_balloon, built-in virtio_console) under `tvisor run`: ext4 disks made on the host, read-only and
// overlay disks, the entropy device, the balloon, hvc0, two VMs linked by a socket network, and console input piped in.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2fsTool, freePort } from './lib/toolchain.js';
import { guestFixture, runGuest, startGuest, assertRan, waitForListener, type GuestFixture } from './lib/guest.js';

let fx: GuestFixture;
const mke2fs = e2fsTool('mke2fs');
const debugfs = e2fsTool('debugfs');
const e2fsck = e2fsTool('e2fsck');
const noE2fs = !mke2fs || !debugfs || !e2fsck ? 'needs e2fsprogs (mke2fs, debugfs): apt-get install e2fsprogs' : false;

before(async () => {
  fx = await guestFixture('virtio');
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const APPEND = 'console=ttyS0 quiet panic=-1'; // the whole command line (run --cmdline)

/** An ext4 image made on the host with `mke2fs -d` from a directory holding `files`. */
function makeExt4(name: string, files: Record<string, string>, size = '64M'): string {
  const dir = join(fx.work, `${name}.d`);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const img = join(fx.work, `${name}.img`);
  execFileSync(mke2fs!, ['-q', '-F', '-t', 'ext4', '-d', dir, img, size]);
  return img;
}

/** A file's contents inside an ext4 image, through debugfs (no mount needed). */
function readExt4(img: string, path: string): Buffer {
  const out = join(fx.work, `dump-${Math.random().toString(36).slice(2)}`);
  execFileSync(debugfs!, ['-R', `dump ${path} ${out}`, img], { stdio: 'ignore' });
  if (!existsSync(out)) throw new Error(`${path} is not in ${img}`);
  return readFileSync(out);
}

const DISK_SCRIPT = `set -e
mkdir -p /mnt /ro
mount -t ext4 /dev/vda /mnt
echo "hello: $(cat /mnt/hello.txt)"
dd if=/dev/urandom of=/mnt/big.bin bs=1M count=8 2>/dev/null
sha256sum /mnt/big.bin | sed 's/ .*//;s/^/big: /'
mkdir /mnt/dir && echo "made in the guest" > /mnt/dir/note.txt
sync
umount /mnt
echo "serial: $(cat /sys/block/vda/serial)"
echo "vdb-ro: $(cat /sys/block/vdb/ro)"
mount -t ext4 -o ro /dev/vdb /ro
echo "vdb: $(cat /ro/hello.txt)"
if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 2>/dev/null; then echo "vdb-write: accepted"; else echo "vdb-write: refused"; fi
umount /ro
dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \\n' | sed 's/^/hwrng: /'; echo
echo "rng: $(cat /sys/class/misc/hw_random/rng_current)"
echo "memtotal: $(sed -n 's/^MemTotal: *\\([0-9]*\\).*/\\1/p' /proc/meminfo)"
grep '^balloon_inflate' /proc/vmstat
`;

test('virtio-blk, -rng and -balloon with the Debian kernel: ext4 made on the host, data back on the host', { skip: noE2fs }, async () => {
  const disk = makeExt4('rw', { 'hello.txt': 'hello from the host\n' });
  const ro = makeExt4('ro', { 'hello.txt': 'read-only disk\n' }, '16M');
  const roBefore = sha256(readFileSync(ro));
  const initrd = fx.initrdWith(DISK_SCRIPT, 'disk');
  const r = await runGuest(['--kernel', fx.guest.kernel, '--initrd', initrd, '--cmdline', APPEND,
    '--disk', `${disk},serial=tvisor-disk-0`, '--disk', `${ro},readonly`, '--rng', '--balloon', '64M', '--memory', '512M']);
  assertRan(r, 'disk guest');
  assert.match(r.out, /hello: hello from the host/);
  const big = /big: ([0-9a-f]{64})/.exec(r.out)?.[1];
  assert.ok(big, 'the guest printed the checksum of its 8 MiB file');
  assert.equal(sha256(readExt4(disk, '/big.bin')), big, 'the 8 MiB file written by the guest is intact on the host');
  assert.equal(readExt4(disk, '/dir/note.txt').toString(), 'made in the guest\n');
  execFileSync(e2fsck!, ['-fn', disk], { stdio: 'ignore' }); // throws unless the file system is clean
  assert.match(r.out, /serial: tvisor-disk-0/);
  assert.match(r.out, /vdb-ro: 1/, 'the kernel sees VIRTIO_BLK_F_RO');
  assert.match(r.out, /vdb: read-only disk/);
  assert.match(r.out, /vdb-write: refused/);
  assert.equal(sha256(readFileSync(ro)), roBefore, 'the read-only image is unchanged');
  const hw = /hwrng: ([0-9a-f]*)/.exec(r.out)?.[1] ?? '';
  assert.equal(hw.length, 128, '64 bytes from /dev/hwrng');
  assert.ok(new Set(hw.match(/../g)).size > 16, 'and they look random');
  assert.match(r.out, /rng: virtio_rng\.0/);
  const inflated = Number(/balloon_inflate (\d+)/.exec(r.out)?.[1]);
  assert.equal(inflated, 16384, 'the guest inflated the balloon by 64 MiB of 4 KiB pages');
  const memTotal = Number(/memtotal: (\d+)/.exec(r.out)?.[1]);
  assert.ok(memTotal > 300_000 && memTotal < 512 * 1024 - 65536, `MemTotal (${memTotal} kB) shrank by the balloon`);
});

const OVERLAY_FIRST = `set -e
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt
echo first-run > /mnt/run.txt
rm /mnt/hello.txt
umount /mnt
`;
const OVERLAY_SECOND = `set -e
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt
echo "seen: $(cat /mnt/run.txt)"
[ -e /mnt/hello.txt ] && echo "hello: still there" || echo "hello: deleted"
umount /mnt
`;

test('overlay=: the base image stays byte-identical and a later run reuses the overlay', { skip: noE2fs }, async () => {
  const base = makeExt4('base', { 'hello.txt': 'base\n' });
  const overlay = join(fx.work, 'base.overlay');
  const baseSum = sha256(readFileSync(base));
  const r1 = await runGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(OVERLAY_FIRST, 'ov1'), '--cmdline', APPEND, '--disk', `${base},overlay=${overlay}`]);
  assertRan(r1, 'overlay first run');
  assert.equal(sha256(readFileSync(base)), baseSum, 'base unchanged after the first run');
  assert.ok(existsSync(overlay));
  const r2 = await runGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(OVERLAY_SECOND, 'ov2'), '--cmdline', APPEND, '--disk', `${base},overlay=${overlay}`]);
  assertRan(r2, 'overlay second run');
  assert.match(r2.out, /seen: first-run/);
  assert.match(r2.out, /hello: deleted/);
  assert.equal(sha256(readFileSync(base)), baseSum, 'base unchanged after the second run');
  assert.equal(readExt4(base, '/hello.txt').toString(), 'base\n');
});

test('hvc0: virtio-console as the Linux console, output and input', async () => {
  const script = `echo "consoles: $(cat /proc/consoles | awk '{print $1}' | tr '\\n' ' ')"
echo "tty: $(cat /sys/class/tty/console/active)"
read -r line
echo "typed: $line"
`;
  const { child, done } = startGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(script, 'hvc'), '--cmdline', 'console=hvc0 quiet panic=-1', '--console', 'virtio'], 600_000, 'pipe');
  let out = '';
  let sent = false;
  child.stdout!.on('data', (d) => {
    out += d;
    if (!sent && out.includes('tty: ')) {
      sent = true;
      child.stdin!.write('over hvc0\n');
    }
  });
  const r = await done;
  assertRan(r, 'hvc0 guest');
  assert.match(r.out, /consoles: .*hvc0/);
  assert.match(r.out, /typed: over hvc0/);
});

test('a file piped into tvisor run waits for the guest to read it instead of overflowing the UART\'s bounded input', async () => {
  // 150 KB, more than twice what the UART's host line buffers (64 KiB): without flow control on stdin the
  // excess is dropped, the checksum differs and head waits for bytes that never come
  const data = Buffer.from(randomBytes(112_500).toString('base64'));
  assert.equal(data.length, 150_000);
  const script = `stty raw -echo
echo READY
echo "md5: $(head -c ${data.length} | md5sum)"
`;
  const { child, done } = startGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(script, 'pipe-in'), '--cmdline', 'console=ttyS0 quiet panic=-1'], 600_000, 'pipe');
  let out = '';
  child.stdout!.on('data', (d) => {
    if (out.includes('READY')) return;
    out += d;
    if (out.includes('READY')) child.stdin!.end(data);
  });
  const r = await done;
  assertRan(r, 'piped-input guest');
  assert.match(r.out, new RegExp(`md5: ${createHash('md5').update(data).digest('hex')}`));
});


test('virtio-net: two VMs linked by a socket ping each other and move 4 MiB with nc, checksums equal', async () => {
  const port = await freePort();
  const common = `set -e
ip=$1
ifconfig eth0 $ip netmask 255.255.255.0 up
echo "mac: $(cat /sys/class/net/eth0/address)"
`;
  const server = `${common.replace('$1', '10.9.0.1')}
nc -l -p 5000 > /tmp/got.bin
sha256sum /tmp/got.bin | sed 's/ .*//;s/^/received: /'
`;
  const client = `${common.replace('$1', '10.9.0.2')}
for i in $(seq 1 60); do ping -c 1 -W 1 10.9.0.1 >/dev/null 2>&1 && break; done
ping -c 3 10.9.0.1 | grep -q ' 0% packet loss' && echo "ping: ok"
dd if=/dev/urandom of=/tmp/data.bin bs=64k count=64 2>/dev/null
sha256sum /tmp/data.bin | sed 's/ .*//;s/^/sent: /'
sleep 1
for i in $(seq 1 30); do nc 10.9.0.1 5000 < /tmp/data.bin && break; sleep 1; done
`;
  const a = startGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(server, 'net-a'), '--cmdline', APPEND, '--name', 'a', '--net', `socket-listen=127.0.0.1:${port}`], 600_000);
  // the client's tvisor run retries its connection for 10 s only: start it once the server listens
  await waitForListener(port, a.child);
  const b = startGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(client, 'net-b'), '--cmdline', APPEND, '--name', 'b', '--net', `socket-connect=127.0.0.1:${port}`], 600_000);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assertRan(ra, 'server VM');
  assertRan(rb, 'client VM');
  assert.match(rb.out, /ping: ok/);
  const sent = /sent: ([0-9a-f]{64})/.exec(rb.out)?.[1];
  const received = /received: ([0-9a-f]{64})/.exec(ra.out)?.[1];
  assert.ok(sent && received);
  assert.equal(received, sent, '4 MiB over TCP between the VMs arrived intact');
  const macA = /mac: (\S+)/.exec(ra.out)?.[1];
  const macB = /mac: (\S+)/.exec(rb.out)?.[1];
  assert.ok(macA && macB && macA !== macB, 'each VM has its own MAC');
  assert.match(macA, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
});
