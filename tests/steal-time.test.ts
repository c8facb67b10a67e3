// Steal time reaches the guest through SBI STA: a small S-mode program (tests/sbi/sta-probe.c, built with
// Debian's riscv64-unknown-elf-gcc) registers a steal-time record and busy-loops for 4 s of guest time,
// printing the steal the hypervisor reported. Two of them on one pCPU each wait about half the time; one
// alone hardly waits. The API's steal_time_ns must agree with what the guest saw.
//
// Debian's riscv64 kernels (6.12; 7.2 in trixie-backports) are built without CONFIG_PARAVIRT, so Linux
// guests from Debian never register the record. The last test builds Debian's kernel source with it
// (tests/lib/paravirt-kernel.ts) and reads the steal where a user would: /proc/stat, procps's vmstat and top.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { buildElf, repoRoot } from './lib/toolchain.js';
import { startDaemon, stopDaemon, api, waitFor, collectConsole, type Daemon } from './lib/daemon.js';
import { paravirtKernel } from './lib/paravirt-kernel.js';
import { buildInitramfs, ensureDefaultGuest, AUTORUN_EXIT_PREFIX } from '../src/images/index.js';
import { readGuestParts } from '../src/images/node/guest.js';
import { buildDiskImage } from '../src/images/node/disk.js';

let dir: string;
let probe: string;
let d: Daemon;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvisor-steal-'));
  probe = buildElf([join(repoRoot, 'tests', 'sbi', 'sta-probe.c')], join(dir, 'sta-probe.elf'), {
    args: ['-ffreestanding', '-Wl,-Ttext=0x80200000', '-Wl,-e,_start'],
  });
  d = await startDaemon(join(dir, 'state'), ['--allow-dir', dir]);
});
after(async () => {
  if (d) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

/** Attaches to the VM's console before it starts and collects everything it prints. */
function collect(id: string): Promise<() => string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${id}/console`);
    ws.on('message', (data, binary) => {
      if (binary) out += Buffer.from(data as Buffer).toString('latin1');
    });
    ws.once('open', () => resolve(() => out));
    ws.once('error', reject);
  });
}

interface Reading { timeNs: number; stealNs: number; sequence: number }

function readings(out: string): Reading[] {
  assert.match(out, /sta-probe: set_shmem 0\n/, `the guest registered its record:\n${out}`);
  return [...out.matchAll(/sta-probe: time_ns (\d+) steal_ns (\d+) sequence (\d+)/g)].map((m) => ({
    timeNs: Number(m[1]), stealNs: Number(m[2]), sequence: Number(m[3]),
  }));
}

async function runProbes(names: string[]): Promise<{ out: Reading[]; apiStealNs: number }[]> {
  const ids: string[] = [];
  const outs: (() => string)[] = [];
  for (const name of names) {
    const r = await api(d, 'POST', '/v1/vms', { name, vcpus: 1, memory_mib: 16, kernel: probe });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    ids.push(r.json.id);
    outs.push(await collect(r.json.id));
  }
  for (const id of ids) assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
  const result = [];
  for (let i = 0; i < ids.length; i++) {
    const v = await waitFor(d, ids[i], (x) => x.state !== 'running', `${names[i]} finishes`, 60_000);
    assert.equal(v.state, 'stopped', `${names[i]} shut itself down: ${JSON.stringify(v)}`);
    const out = readings(outs[i]());
    assert.equal(out.length, 8, `eight readings from ${names[i]}:\n${outs[i]()}`);
    result.push({ out, apiStealNs: v.stats.steal_time_ns });
  }
  return result;
}

test('STA: two busy guests on one pCPU each see about half their time as steal; the API agrees', async (t) => {
  const both = await runProbes(['probe-a', 'probe-b']);
  for (const [i, { out, apiStealNs }] of both.entries()) {
    const last = out[out.length - 1];
    const frac = last.stealNs / last.timeNs;
    t.diagnostic(`probe ${i}: steal ${(last.stealNs / 1e6).toFixed(0)} ms of ${(last.timeNs / 1e6).toFixed(0)} ms (${(frac * 100).toFixed(1)}%), sequence ${last.sequence}; API steal ${(apiStealNs / 1e6).toFixed(0)} ms`);
    assert.ok(frac > 0.25 && frac < 0.75, `probe ${i}: steal is ${(frac * 100).toFixed(1)}% of its time, expected about 50%`);
    for (let k = 1; k < out.length; k++) assert.ok(out[k].stealNs >= out[k - 1].stealNs, 'steal never goes backwards');
    assert.ok(last.sequence > 0 && last.sequence % 2 === 0, 'the sequence moved and is even between updates');
    // The API counts to the VM's end, the guest's record up to its last slice: never less, at most a
    // couple of slices more.
    assert.ok(apiStealNs >= last.stealNs, `API steal ${apiStealNs} ≥ guest's ${last.stealNs}`);
    assert.ok(apiStealNs - last.stealNs < 0.5e9, `API steal ${apiStealNs} close to the guest's ${last.stealNs}`);
  }
});

test('STA: a guest alone on the pCPU sees almost no steal', async (t) => {
  const [{ out }] = await runProbes(['probe-solo']);
  const last = out[out.length - 1];
  t.diagnostic(`solo: steal ${(last.stealNs / 1e6).toFixed(1)} ms of ${(last.timeNs / 1e6).toFixed(0)} ms`);
  assert.ok(last.stealNs < 0.1 * last.timeNs, `solo steal ${last.stealNs} ns is under 10% of ${last.timeNs} ns`);
});

test('Linux built with CONFIG_PARAVIRT shows its steal time in /proc/stat, vmstat and top', async (t) => {
  const log = (line: string) => process.stderr.write(`# ${line}\n`);
  const { image, version } = await paravirtKernel(log);
  const kernel = join(dir, 'Image-paravirt');
  copyFileSync(image, kernel);
  // procps on a Debian root disk: busybox has no vmstat, and its top no steal column
  const disk = await buildDiskImage({ output: join(dir, 'pv-root.img'), size: 128 * 2 ** 20, packages: ['procps'], log });
  const { busybox } = await readGuestParts(await ensureDefaultGuest({ log }));
  const initrd = (name: string, autorun: string) => {
    const path = join(dir, `${name}.cpio`);
    writeFileSync(path, buildInitramfs({ busybox, kernelVersion: `${version}-paravirt`, modules: [], autorun }));
    return path;
  };
  // The watcher keeps its vCPU busy (steal accrues only while a vCPU wants to run) and reads the cpu line of
  // /proc/stat, in USER_HZ ticks: user nice system idle iowait irq softirq steal.
  const watch = initrd('watch', [
    'dmesg | grep riscv-pv',
    '(while :; do :; done) &',
    'read -r _ u n s i w q sq st _ < /proc/stat',
    'sleep 8',
    'read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ < /proc/stat',
    'echo "window busy=$((u2 - u + n2 - n + s2 - s + q2 - q + sq2 - sq)) idle=$((i2 - i + w2 - w)) steal=$((st2 - st))"',
    // vmstat's second line covers the 3 s after the first; so does top's second report
    'vmstat 3 2',
    '/usr/bin/top -b -n 2 -d 3 | grep "^%Cpu" | tail -n 1',
    'kill %1',
    '',
  ].join('\n'));
  const hog = initrd('hog', 'while :; do :; done\n');

  const create = async (name: string, body: object) => {
    const r = await api(d, 'POST', '/v1/vms', { name, vcpus: 1, memory_mib: 128, kernel, ...body });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.id as string;
  };
  const hogId = await create('pv-hog', { initrd: hog, cmdline: 'console=ttyS0 quiet' });
  const watchId = await create('pv-watch', { initrd: watch, cmdline: 'console=ttyS0 quiet root=/dev/vda', disks: [{ path: disk.path }] });
  const con = await collectConsole(d, watchId);
  for (const id of [hogId, watchId]) assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
  await con.waitFor(new RegExp(AUTORUN_EXIT_PREFIX), 300_000);
  const out = con.text().replace(/\r/g, '');
  con.close();
  const apiSteal = (await api(d, 'GET', `/v1/vms/${watchId}`)).json.stats.steal_time_ns as number;
  assert.equal((await api(d, 'POST', `/v1/vms/${hogId}/stop`)).status, 200);
  await waitFor(d, watchId, (v) => v.state !== 'running', 'the watching guest powers off', 60_000);

  assert.match(out, /riscv-pv: SBI STA extension detected/, `the kernel found SBI STA:\n${out}`);
  const m = /window busy=(\d+) idle=(\d+) steal=(\d+)/.exec(out);
  assert.ok(m, `the guest printed its /proc/stat window:\n${out}`);
  const [busy, idle, steal] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const frac = steal / (busy + idle + steal);
  t.diagnostic(`guest /proc/stat over 8 s: busy ${busy}, idle ${idle}, steal ${steal} ticks (${(frac * 100).toFixed(1)}% steal); API steal over the VM's life ${(apiSteal / 1e9).toFixed(2)} s`);
  // two busy guests on one pCPU: each waits about half the time
  assert.ok(frac > 0.25 && frac < 0.75, `the guest saw ${(frac * 100).toFixed(1)}% steal, expected about 50%`);
  assert.ok(apiSteal >= (steal / 100) * 1e9 * 0.9, `the API's steal (${apiSteal} ns over the VM's life) covers the guest's window (${steal} ticks)`);
  const lines = out.split('\n');
  const header = lines.findIndex((l) => /^\s*r\s+b\s+swpd.*\bst\b/.test(l));
  assert.ok(header >= 0 && lines[header + 2], `vmstat printed its table:\n${out}`);
  const column = lines[header].trim().split(/\s+/).indexOf('st');
  const vmstatSteal = Number(lines[header + 2].trim().split(/\s+/)[column]);
  t.diagnostic(`vmstat over 3 s: ${lines[header + 2].trim()} (st ${vmstatSteal}%)`);
  assert.ok(vmstatSteal > 25 && vmstatSteal < 75, `vmstat shows about 50% steal: ${lines[header + 2]}`);
  const top = /^%Cpu\(s\):.*$/m.exec(out)?.[0];
  assert.ok(top, `top printed its CPU line:\n${out}`);
  t.diagnostic(`top over 3 s: ${top.trim()}`);
  const st = /([\d.]+) st\b/.exec(top);
  assert.ok(st && Number(st[1]) > 25 && Number(st[1]) < 75, `top shows about 50% steal: ${top}`);
});
