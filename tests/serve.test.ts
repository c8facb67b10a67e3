// `tvisor serve` end to end: the daemon with the real Debian guest — create through the API, a VM whose kernel
// has a valid Image header and a zeroed body ends `crashed` while the good VM keeps running, bad requests get
// 4xx JSON errors, lifecycle transitions, and definitions survive a daemon restart; with --vms-per-thread,
// VMs sharing one thread boot side by side and a crash or a stop of one leaves the others running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './lib/toolchain.js';
import { startDaemon, stopDaemon, api, waitFor, collectConsole } from './lib/daemon.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

let guest: GuestImage;
let dir: string;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-serve-'));
  const kernel = readFileSync(guest.kernel);
  const zeroed = Buffer.alloc(kernel.length);
  kernel.copy(zeroed, 0, 0, 64); // the Image header only
  writeFileSync(join(dir, 'zeroed.Image'), zeroed);
  writeFileSync(join(dir, 'random.bin'), randomBytes(100_000));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const allow = () => ['--allow-dir', dir, '--allow-dir', guest.dir];

test('serve: a crashing guest ends crashed, the other keeps running; bad requests get 4xx', async () => {
  const d = await startDaemon(join(dir, 'state1'), allow());
  try {
    const good = await api(d, 'POST', '/v1/vms', { name: 'good', vcpus: 1, memory_mib: 256, kernel: guest.kernel, initrd: guest.initrd });
    assert.equal(good.status, 201, JSON.stringify(good.json));
    assert.match(good.json.id, /^[0-9a-f]{8}$/);
    assert.equal(good.json.state, 'created');
    const bad = await api(d, 'POST', '/v1/vms', { name: 'bad', vcpus: 1, memory_mib: 64, kernel: join(dir, 'zeroed.Image') });
    assert.equal(bad.status, 201);

    const rnd = await api(d, 'POST', '/v1/vms', { name: 'rnd', vcpus: 1, memory_mib: 64, kernel: join(dir, 'random.bin') });
    assert.ok(rnd.status >= 400 && rnd.status < 500, `random kernel: ${rnd.status}`);
    assert.equal(rnd.json.error.code, 'bad_kernel');
    const malformed = await api(d, 'POST', '/v1/vms', '{"name": "x",');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error.code, 'invalid_json');
    const outside = await api(d, 'POST', '/v1/vms', { name: 'o', vcpus: 1, memory_mib: 64, kernel: '/etc/passwd' });
    assert.equal(outside.status, 403);
    assert.equal((await api(d, 'GET', '/v1/vms/ffffffff')).status, 404);
    assert.equal((await api(d, 'POST', `/v1/vms/${good.json.id}/pause`)).status, 409, 'pause is not allowed before start');
    assert.equal((await api(d, 'GET', '/v1/vms')).json.length, 2, 'refused requests created nothing');

    assert.equal((await api(d, 'POST', `/v1/vms/${good.json.id}/start`)).status, 200);
    assert.equal((await api(d, 'POST', `/v1/vms/${bad.json.id}/start`)).status, 200);
    const crashed = await waitFor(d, bad.json.id, (v) => v.state === 'crashed', 'bad VM crashes');
    assert.match(crashed.reason, /makes no progress/);
    const running = await waitFor(d, good.json.id, (v) => v.stats.instructions > 200_000_000, 'good VM boots');
    assert.equal(running.state, 'running');
    assert.ok(running.stats.cpu_time_ns > 0 && running.stats.memory_touched_bytes > 16 * 2 ** 20);

    assert.equal((await api(d, 'POST', `/v1/vms/${good.json.id}/pause`)).json.state, 'paused');
    assert.equal((await api(d, 'POST', `/v1/vms/${good.json.id}/resume`)).json.state, 'running');
    assert.equal((await api(d, 'PATCH', `/v1/vms/${good.json.id}`, { weight: 512 })).json.config.weight, 512);
    assert.equal((await api(d, 'DELETE', `/v1/vms/${good.json.id}`)).status, 409, 'a running VM is not deleted');
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`tvisor_vm_running\\{vm="${good.json.id}",name="good"\\} 1`));
    const doc = (await api(d, 'GET', '/v1/openapi.json')).json;
    assert.equal(doc.openapi.slice(0, 3), '3.1');
    assert.equal((await api(d, 'POST', `/v1/vms/${good.json.id}/stop`)).json.state, 'stopped');
    assert.equal((await api(d, 'DELETE', `/v1/vms/${good.json.id}`)).status, 204);
  } finally {
    await stopDaemon(d);
  }
});

test('serve: definitions persist across a daemon restart', async () => {
  const state = join(dir, 'state2');
  const d1 = await startDaemon(state, allow());
  let id: string;
  try {
    const r = await api(d1, 'POST', '/v1/vms', { name: 'keep', vcpus: 1, memory_mib: 64, kernel: guest.kernel, weight: 300 });
    assert.equal(r.status, 201);
    id = r.json.id;
  } finally {
    await stopDaemon(d1);
  }
  const d2 = await startDaemon(state, allow());
  try {
    const v = (await api(d2, 'GET', `/v1/vms/${id}`)).json;
    assert.equal(v.name, 'keep');
    assert.equal(v.state, 'created');
    assert.equal(v.config.weight, 300);
  } finally {
    await stopDaemon(d2);
  }
});

test('serve: listening beyond loopback needs a token', () => {
  const r = spawnSync(process.execPath, [cliPath, 'serve', '--listen', '0.0.0.0:0', '--state-dir', join(dir, 'state3')], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /needs --token/);
});

test('serve --vms-per-thread: VMs in one thread boot side by side; a crash or a stop there ends only that VM', async () => {
  const d = await startDaemon(join(dir, 'state-packed'), [...allow(), '--vms-per-thread', '4']);
  try {
    assert.match(d.log(), /up to 4 VMs per thread/);
    const create = async (name: string, body: object) => {
      const r = await api(d, 'POST', '/v1/vms', { name, vcpus: 1, ...body });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json.id as string;
    };
    const one = await create('one', { memory_mib: 256, kernel: guest.kernel, initrd: guest.initrd });
    const two = await create('two', { memory_mib: 256, kernel: guest.kernel, initrd: guest.initrd });
    const bad = await create('bad', { memory_mib: 64, kernel: join(dir, 'zeroed.Image') });
    const consoles = [await collectConsole(d, one), await collectConsole(d, two)];
    for (const id of [one, two, bad]) assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    const crashed = await waitFor(d, bad, (v) => v.state === 'crashed', 'the bad VM crashes');
    assert.match(crashed.reason, /makes no progress/);
    for (const c of consoles) await c.waitFor(/tvisor guest: Linux/, 240_000);
    for (const id of [one, two]) assert.equal((await api(d, 'GET', `/v1/vms/${id}`)).json.state, 'running');
    assert.equal((await api(d, 'POST', `/v1/vms/${one}/stop`)).json.state, 'stopped');
    // the thread goes on for the VM left in it: its guest still answers
    const before = consoles[1].text().length;
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${two}/console`);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    ws.send(Buffer.from('echo packed-$((6*7))\n'));
    await consoles[1].waitFor(/packed-42/, 60_000);
    assert.ok(consoles[1].text().length > before);
    ws.close();
    for (const c of consoles) c.close();
    assert.equal((await api(d, 'GET', `/v1/vms/${two}`)).json.state, 'running');
  } finally {
    await stopDaemon(d);
  }
});
