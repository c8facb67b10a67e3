// Admission control of `tvisor serve`, end to end: 50 VMs created and started at once (a tiny idle kernel, so
// nothing boots) all get started, while GET /v1/vms keeps answering; the latencies seen meanwhile are reported.
// TVISOR_ADMISSION_GUEST=debian boots the default guest instead, TVISOR_ADMISSION_PROBE_MS=N probes N ms longer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, stopDaemon, api } from './lib/daemon.js';
import { idleKernel } from '../src/core/machine/test-images.js';
import { ensureDefaultGuest } from '../src/images/index.js';

const VMS = 50;
let dir: string;
/** What each VM boots: the idle kernel, or with TVISOR_ADMISSION_GUEST=debian the default guest (a heavier measurement). */
let boot: { kernel: string; initrd?: string; memory_mib: number };
let allow: string[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvisor-admission-'));
  writeFileSync(join(dir, 'idle.Image'), idleKernel());
  boot = { kernel: join(dir, 'idle.Image'), memory_mib: 16 };
  allow = ['--allow-dir', dir];
  if (process.env.TVISOR_ADMISSION_GUEST === 'debian') {
    const g = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
    boot = { kernel: g.kernel, initrd: g.initrd, memory_mib: 128 };
    allow.push('--allow-dir', g.dir);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

test(`serve: ${VMS} parallel creates+starts all start and the API keeps answering`, { timeout: 600_000 }, async (t) => {
  const d = await startDaemon(join(dir, 'state'), [...allow, '--pcpus', '2', '--memory-budget', '8G']);
  try {
    // a prober: GET /v1/vms back to back, timing each answer, until the starts are all done
    const latencies: number[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const t0 = performance.now();
        const r = await api(d, 'GET', '/v1/vms');
        latencies.push(performance.now() - t0);
        assert.equal(r.status, 200);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = performance.now();
    const startLatencies: number[] = [];
    const ids = await Promise.all(Array.from({ length: VMS }, async (_, i) => {
      const c = await api(d, 'POST', '/v1/vms', { name: `vm${i}`, vcpus: 1, ...boot });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s0 = performance.now();
      const s = await api(d, 'POST', `/v1/vms/${c.json.id}/start`);
      startLatencies.push(performance.now() - s0);
      assert.equal(s.status, 200, JSON.stringify(s.json));
      return c.json.id as string;
    }));
    const answered = performance.now() - t0;
    // every VM runs: its guest has retired instructions (the idle kernel executes a few, then waits in WFI)
    const deadline = Date.now() + 300_000;
    for (;;) {
      const vms = (await api(d, 'GET', '/v1/vms')).json as any[];
      const started = vms.filter((v) => ids.includes(v.id) && v.state === 'running' && v.stats.instructions > 0);
      if (started.length === VMS) break;
      const bad = vms.filter((v) => v.state !== 'running');
      assert.equal(bad.length, 0, `VMs not running: ${JSON.stringify(bad.map((v) => [v.id, v.state, v.reason]))}\n${d.log()}`);
      if (Date.now() > deadline) throw new Error(`${started.length} of ${VMS} VMs started\n${d.log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const allStarted = performance.now() - t0;
    const extra = Number(process.env.TVISOR_ADMISSION_PROBE_MS ?? 0);
    if (extra > 0) await new Promise((r) => setTimeout(r, extra));
    probing = false;
    await prober;
    const p50 = percentile(latencies, 50);
    const max = Math.max(...latencies);
    t.diagnostic(`${VMS} creates+starts answered in ${(answered / 1000).toFixed(1)} s, all VMs running after ${(allStarted / 1000).toFixed(1)} s`);
    t.diagnostic(`POST start latency: p50 ${percentile(startLatencies, 50).toFixed(0)} ms, max ${Math.max(...startLatencies).toFixed(0)} ms`);
    t.diagnostic(`GET /v1/vms meanwhile: ${latencies.length} answers, p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms`);
    assert.ok(latencies.length >= 5, 'the API answered all along');
    // a gross check only (timings on a loaded 2-core machine vary): the issue saw the API starve for > 15 s
    assert.ok(max < 15_000, `GET /v1/vms waited ${max.toFixed(0)} ms`);
    for (const id of ids) assert.equal((await api(d, 'POST', `/v1/vms/${id}/stop`)).status, 200);
  } finally {
    await stopDaemon(d);
  }
});
