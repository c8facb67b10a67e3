// Tests of the rate-limit settings of `tvisor run --disk … ,bw=RATE,iops=N` and `--net … ,bw=RATE,pps=N`:
// parsing, the token buckets they stand for, clear usage errors, and devices built with them that throttle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './args.js';
import { apiRateLimiter, createRunDevices, describeRunDevices, limiterConfig, parseDiskOption, parseRate, parseUserNet } from './devices.js';
import { passtArgs } from '../host/node/passt.js';
import { GuestRam } from '../core/machine/memory.js';
import { VirtioMmio, type VirtioDevice } from '../core/virtio/mmio.js';
import { MockDriver } from '../core/virtio/mock-driver.js';
import { BlkType, VirtioBlk } from '../core/virtio/blk/blk.js';
import { VirtioNet } from '../core/virtio/net/net.js';

function usage(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e) => e instanceof UsageError && e.command === 'run' && message.test(e.message), String(message));
}

test('--disk bw=RATE and iops=N: parsed with binary suffixes, as buckets of one second refilled over 1000 ms', () => {
  assert.deepEqual(parseDiskOption('/d.img,bw=10M,iops=200,readonly'), { path: '/d.img', readOnly: true, limits: { bandwidth: 10 * 2 ** 20, ops: 200 } });
  assert.deepEqual(parseDiskOption('/d.img,bw=512k').limits, { bandwidth: 512 * 1024 });
  assert.deepEqual(parseDiskOption('/d.img,iops=1').limits, { ops: 1 });
  assert.equal(parseDiskOption('/d.img,serial=x').limits, undefined);
  assert.equal(parseRate('3G', 'bw=', 'run'), 3 * 2 ** 30);
  assert.equal(parseRate('4096', 'bw=', 'run'), 4096, 'a plain number is bytes per second');
  assert.deepEqual(limiterConfig({ bandwidth: 2 ** 21, ops: 50 }), { bandwidth: { size: 2 ** 21, refillTimeMs: 1000 }, ops: { size: 50, refillTimeMs: 1000 } });
  assert.equal(limiterConfig({}), null);
  assert.equal(limiterConfig(undefined), null);
  assert.deepEqual(apiRateLimiter({ ops: 7 }), { ops: { size: 7, refill_time_ms: 1000 } });
  assert.equal(apiRateLimiter(undefined), undefined);
});

test('bad rate settings are usage errors that say what to write', () => {
  for (const bad of ['0', '', '10X', '1.5M', '-1', 'fast', '10MB', '99999999999999999G']) {
    usage(() => parseDiskOption(`/d.img,bw=${bad}`), /^--disk bw='.*' is not a rate: give bytes per second as a whole number above 0 with an optional K, M or G suffix, e.g. bw=10M$/);
  }
  for (const bad of ['0', '', '1.5', '1k', '-3']) usage(() => parseDiskOption(`/d.img,iops=${bad}`), /^--disk iops='.*' must be a whole number of operations per second above 0$/);
  usage(() => parseDiskOption('/d.img,bw=1M,bw=2M'), /^--disk '\/d.img,bw=1M,bw=2M': bw= given twice$/);
  usage(() => parseDiskOption('/d.img,pps=10'), /unknown setting 'pps=10' \(expected readonly, overlay=PATH, serial=ID, bw=RATE or iops=N\)/);
  usage(() => parseDiskOption('/d.img,bw'), /unknown setting 'bw'/);
});

const noop = { name: 'vm', memory: 64 << 20, virtioConsole: false, consoleOutput: () => {}, rng: false, warn: () => {} };

test('--net bw= and pps= are taken off before the link is parsed; bad ones are usage errors', async () => {
  const fail = (net: string, message: RegExp) => assert.rejects(createRunDevices({ ...noop, disks: [], nets: [net] }), (e) => e instanceof UsageError && message.test(e.message), net);
  await fail('socket-listen=127.0.0.1:0,pps=0', /^--net pps='0' must be a whole number/);
  await fail('socket-listen=127.0.0.1:0,bw=1T', /^--net bw='1T' is not a rate/);
  await fail('socket-listen=127.0.0.1:0,pps=1,pps=2', /pps= given twice/);
  await fail('socket-listen=127.0.0.1:0,iops=5', /unknown setting 'iops=5'/);
});

/** Pushes `n` requests through a device built by createRunDevices, with the mock driver as the guest. */
function drive(dev: VirtioDevice) {
  const ram = new GuestRam(0x8000_0000, 2 << 20);
  const t = new VirtioMmio(dev, ram, { set: () => {} });
  const drv = new MockDriver(t, ram);
  drv.init();
  return drv;
}

test('devices built from --disk …,bw= and --net …,pps= are throttled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-devlimits-'));
  try {
    const img = join(dir, 'd.img');
    writeFileSync(img, new Uint8Array(1 << 20));
    const run = await createRunDevices({ ...noop, disks: [`${img},bw=4K`], nets: ['socket-listen=127.0.0.1:0,pps=10,mac=52:54:00:00:00:01'] });
    try {
      const [blk, net] = run.devices;
      assert.ok(blk instanceof VirtioBlk && net instanceof VirtioNet);
      const d = drive(blk);
      for (let i = 0; i < 3; i++) {
        const h = new Uint8Array(16);
        new DataView(h.buffer).setUint32(0, BlkType.IN, true);
        d.add(0, [{ data: h }, { writable: 4096 }, { writable: 1 }]);
      }
      d.kick(0);
      assert.equal(d.used(0).length, 1, 'one second of 4 KiB/s: one 4 KiB read now');
      assert.equal(blk.stats.throttled, 1);
      const n = drive(net);
      for (let i = 0; i < 30; i++) n.add(1, [{ data: new Uint8Array(12) }, { data: new Uint8Array(60).fill(0xff) }]);
      n.kick(1);
      // ten frames in the bucket; allow one more if this machine took over 100 ms since the device was made
      assert.ok(net.stats.txFrames >= 10 && net.stats.txFrames <= 11, `${net.stats.txFrames} frames sent`);
      assert.equal(net.stats.txThrottled, 1);
    } finally {
      run.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--net user: hostfwd= forwards as QEMU writes them, mac= and limits; passt gets -t/-u ADDR/PORT:GUESTPORT', () => {
  const [d] = describeRunDevices({ name: 'web', disks: [], nets: ['user,hostfwd=tcp::2222-:22,hostfwd=udp:0.0.0.0:5353-:53,hostfwd=::8080-:80,bw=1M'], virtioConsole: false, rng: false });
  assert.equal(d.kind, 'net');
  if (d.kind !== 'net') return;
  assert.deepEqual(d.backend, { kind: 'user', forwards: [
    { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 2222, guestPort: 22 },
    { proto: 'udp', hostAddr: '0.0.0.0', hostPort: 5353, guestPort: 53 },
    { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 },
  ] });
  assert.deepEqual(d.rateLimiter?.bandwidth, { size: 2 ** 20, refillTimeMs: 1000 });
  assert.match(d.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.deepEqual(parseUserNet('user,mac=52:54:00:12:34:56', ['mac=52:54:00:12:34:56']), { forwards: [], mac: '52:54:00:12:34:56' });
  assert.deepEqual(passtArgs('/run/s', [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 2222, guestPort: 22 }, { proto: 'udp', hostAddr: '::1', hostPort: 53, guestPort: 53 }]),
    ['--foreground', '--stderr', '--socket', '/run/s', '--tcp-ports', '127.0.0.1/2222:22', '--udp-ports', '::1/53:53']);
  assert.deepEqual(passtArgs('/run/s', [], true).slice(-2), ['--runas', '65534:65534']);
});

test('--net user: bad forwards and settings are usage errors that say what to write', () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => parseUserNet(text, text.split(',').slice(1)), (e: unknown) => e instanceof UsageError && re.test((e as Error).message));
  bad('user,hostfwd=tcp:2222-22', /is not hostfwd=\[tcp\|udp\]:\[HOSTADDR\]:HOSTPORT-:GUESTPORT/);
  bad('user,hostfwd=sctp::1-:1', /is not hostfwd=/);
  bad('user,hostfwd=tcp::0-:22', /ports are 1 to 65535/);
  bad('user,hostfwd=tcp::70000-:22', /ports are 1 to 65535/);
  bad('user,hostfwd=tcp:1.2.3:22-:22', /'1.2.3' is not an IP address/);
  bad('user,hostfwd=tcp::22-:22,hostfwd=tcp::22-:23', /tcp port 22 is forwarded twice/);
  bad('user,mac=zz', /--net 'user,mac=zz'/);
  bad('user,dns=1.1.1.1', /unknown or repeated setting 'dns=1.1.1.1'/);
  bad('user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57', /unknown or repeated setting 'mac=/);
});
