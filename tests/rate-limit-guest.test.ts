// Disk rate limiting seen by the real Debian guest under `tvisor run --disk IMG,bw=2M`: reading 8 MiB takes
// at least (8 MiB - the 2 MiB bucket) / 2 MiB/s = 3 s of guest time. Only a lower bound is checked, so a
// slow host cannot make it fail; the unthrottled read of the same image is reported, not asserted.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestFixture, runGuest, assertRan, type GuestFixture } from './lib/guest.js';

let fx: GuestFixture;

before(async () => {
  fx = await guestFixture('ratelimit');
});

// /proc/uptime in hundredths of a second; Debian's busybox dd prints no timing
const SCRIPT = `set -e
echo 3 > /proc/sys/vm/drop_caches
read t0 idle < /proc/uptime
dd if=/dev/vda of=/dev/null bs=1M count=8 2>/dev/null
read t1 idle < /proc/uptime
dd if=/dev/vdb of=/dev/null bs=1M count=8 2>/dev/null
read t2 idle < /proc/uptime
echo "throttled-read: $t0 $t1"
echo "free-read: $t1 $t2"
`;

test('--disk IMG,bw=2M: the guest reads 8 MiB no faster than the limit allows', { timeout: 600_000 }, async (t) => {
  const img = join(fx.work, 'raw.img');
  writeFileSync(img, randomBytes(16 << 20));
  // the same image twice (readonly disks may share it): vda limited, vdb not
  const r = await runGuest(['--kernel', fx.guest.kernel, '--initrd', fx.initrdWith(SCRIPT, 'ratelimit'), '--cmdline', 'console=ttyS0 quiet panic=-1',
    '--disk', `${img},readonly,bw=2M`, '--disk', `${img},readonly`], 590_000);
  assertRan(r, 'rate-limited disk guest');
  const span = (label: string) => {
    const m = new RegExp(`${label}: ([0-9.]+) ([0-9.]+)`).exec(r.out);
    assert.ok(m, `the guest printed its ${label} times`);
    return Number(m[2]) - Number(m[1]);
  };
  const throttled = span('throttled-read');
  const free = span('free-read');
  t.diagnostic(`8 MiB at bw=2M took ${throttled.toFixed(2)} s of guest time; unthrottled ${free.toFixed(2)} s`);
  // 2 MiB from the full bucket at once, then 6 MiB at 2 MiB/s; 0.2 s of slack for the uptime's 10 ms steps
  // and the few KiB the kernel may still hold cached from probing the disk
  assert.ok(throttled >= 2.8, `8 MiB at 2 MiB/s took only ${throttled} s`);
});
