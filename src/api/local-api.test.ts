// The in-process API on a VM manager with fake VM threads: requests parsed and answered as the
// daemon's (errors included), the events and stats streams until aborted, and a VM's console both ways, its
// backlog delivered after the caller set its handlers, and its end when the VM is deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalApi } from './local-api.js';
import { MemoryStore } from '../host/browser/store.js';
import { fakeManager } from '../hypervisor/test-manager.js';
import { ApiError } from '../hypervisor/errors.js';
import type { VmInfo } from '../hypervisor/model.js';

const DEF = { name: 'a', kernel: '/images/default/Image', memory_mib: 16 };

test('requests are the daemon\'s: parsed, checked, answered; errors are its ApiErrors', async () => {
  const f = fakeManager();
  const checked: string[] = [];
  const api = new LocalApi(f.manager, { checkCreate: (spec) => checked.push(spec.kernel ?? ''), images: async () => [] });
  const vm = await api.call<VmInfo>('POST', '/v1/vms', DEF);
  assert.equal(vm.state, 'created');
  assert.deepEqual(checked, ['/images/default/Image']);
  assert.deepEqual((await api.call<VmInfo[]>('GET', '/v1/vms')).map((v) => v.name), ['a']);
  assert.equal((await api.call<VmInfo>('PATCH', `/v1/vms/${vm.id}`, { weight: 512 })).config.weight, 512);
  assert.deepEqual(await api.call('GET', '/v1/images'), []);
  await assert.rejects(api.call('POST', '/v1/vms', DEF), (e: unknown) => e instanceof ApiError && e.code === 'conflict');
  await assert.rejects(api.call('POST', '/v1/vms', { name: 'b' }), (e: unknown) => e instanceof ApiError && e.code === 'bad_request');
  await assert.rejects(api.call('GET', '/v1/nothing'), (e: unknown) => e instanceof ApiError && e.code === 'not_found');
  await assert.rejects(api.call('GET', '/v1/events'), /a stream here/);
  assert.equal(await api.call('DELETE', `/v1/vms/${vm.id}`), undefined);
  assert.deepEqual(await api.call('GET', '/v1/vms'), []);
});

test('the events and stats streams run until aborted', async () => {
  const f = fakeManager();
  const api = new LocalApi(f.manager);
  const events: string[] = [];
  const abort = new AbortController();
  const done = api.stream<{ event: string }>('/v1/events', (e) => events.push(e.event), abort.signal);
  const vm = await api.call<VmInfo>('POST', '/v1/vms', DEF);
  await api.call('DELETE', `/v1/vms/${vm.id}`);
  abort.abort();
  await done;
  assert.deepEqual(events, ['created', 'deleted']);
  const samples: unknown[] = [];
  const stop = new AbortController();
  const stats = api.stream('/v1/stats?interval_ms=200', (s) => {
    samples.push(s);
    if (samples.length === 2) stop.abort();
  }, stop.signal);
  await stats;
  assert.equal(samples.length, 2);
  await assert.rejects(api.stream('/v1/vms', () => {}, new AbortController().signal), /not a stream/);
});

test('a console: backlog after the handlers are set, input to the VM thread, an end when the VM is deleted', async () => {
  const f = fakeManager();
  const api = new LocalApi(f.manager);
  const vm = await api.call<VmInfo>('POST', '/v1/vms', DEF);
  await api.call('POST', `/v1/vms/${vm.id}/start`);
  const thread = f.threads[0];
  thread.emit({ t: 'ready' });
  thread.emit({ t: 'console', bytes: new TextEncoder().encode('boot log\n') });
  const c = api.console(vm.id);
  const got: (string | Uint8Array)[] = [];
  c.onmessage = (d) => got.push(d);
  let closed: [number, string] | null = null;
  c.onclose = (code, reason) => (closed = [code, reason]);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(new TextDecoder().decode(got[0] as Uint8Array), 'boot log\n');
  c.send(new TextEncoder().encode('ls\n'));
  const input = thread.sent.find((m) => m.t === 'input');
  assert.ok(input && input.t === 'input' && new TextDecoder().decode(input.bytes) === 'ls\n', 'input reached the VM thread');
  await api.call('POST', `/v1/vms/${vm.id}/stop`);
  thread.emit({ t: 'stopped' });
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(got.some((d) => typeof d === 'string' && JSON.parse(d).state === 'stopped'), 'the state change came as a text event');
  await api.call('DELETE', `/v1/vms/${vm.id}`);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(closed, [4404, 'VM deleted']);
  assert.equal(c.open, false);
  assert.throws(() => api.console('0000dead'), (e: unknown) => e instanceof ApiError && e.code === 'not_found');
});

test('the memory store hands out unique 8-hex-digit ids', () => {
  const s = new MemoryStore();
  const ids = new Set(Array.from({ length: 1000 }, () => s.newId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}$/);
});
