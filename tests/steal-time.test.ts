// Steal time reaches the guest through SBI STA: a small S-mode program (tests/sbi/sta-probe.c, built with
// Debian's riscv64-unknown-elf-gcc) registers a steal-time record and busy-loops for 4 s of guest time,
// printing the steal the hypervisor reported. Two of them on one pCPU each wait about half the time; one
// alone hardly waits. The API's steal_time_ns must agree with what the guest saw.
//
// Debian's riscv64 kernels (6.12; 7.2 in trixie-backports) are built without CONFIG_PARAVIRT, so Linux
// guests from Debian never register the record; a kernel built with it shows this steal in /proc/stat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { buildElf, repoRoot } from './lib/toolchain.js';
import { startDaemon, stopDaemon, api, waitFor, type Daemon } from './lib/daemon.js';

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
