// The streaming endpoints over real sockets, on a VM manager with fake VM threads: GET /v1/events as NDJSON,
// GET /v1/vms/{id}/logs with tail and follow (ending when the VM stops), and the bound: an event client that
// does not read is dropped rather than buffered without limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createApiServer } from './server.js';
import { lastLines } from './streams.js';
import { fakeManager } from '../hypervisor/test-manager.js';
import type { VmSpec } from './actions.js';

const spec = (name: string): VmSpec => ({ name, vcpus: 1, memory_mib: 16, kernel: '/k', weight: 256, cap: 0, disks: [], nics: [] });
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function serve() {
  const f = fakeManager();
  const logs: string[] = [];
  const server = createApiServer({ manager: f.manager, allowedDirs: [], log: (l) => logs.push(l) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return { ...f, logs, url, close, port: (server.address() as AddressInfo).port };
}

async function until(ok: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('lastLines: the last N lines, a final newline ending the last one', () => {
  const t = (s: string, n: number) => dec(lastLines(enc(s), n));
  assert.equal(t('a\nb\nc\n', 2), 'b\nc\n');
  assert.equal(t('a\r\nb\r\nc', 2), 'b\r\nc');
  assert.equal(t('a\nb\n', 5), 'a\nb\n');
  assert.equal(t('a\nb\n', 0), '');
  assert.equal(t('', 3), '');
  assert.equal(t('\n\n\n', 1), '\n');
});

test('GET /v1/events streams one JSON object a line, from the moment of the request', async () => {
  const s = await serve();
  try {
    const before = s.manager.create(spec('before')).id;
    const res = await fetch(`${s.url}/v1/events`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const reader = res.body!.getReader();
    let text = '';
    const id = s.manager.create(spec('web')).id;
    s.manager.start(id);
    s.manager.stop(id);
    s.manager.remove(before);
    while (text.split('\n').length < 5) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec(value);
    }
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((e) => `${e.name} ${e.event} ${e.state}`), ['web created created', 'web started running', 'web stopped stopped', 'before deleted created']);
    assert.equal(lines[2].reason, 'stop requested');
    await reader.cancel();
    await until(() => s.manager.events.subscribers === 0, 'the client to be unsubscribed when it leaves');
  } finally {
    await s.close();
  }
});

test('GET /v1/events: a client that does not read is dropped, not buffered without limit', async () => {
  const s = await serve();
  const sock = connect(s.port, '127.0.0.1');
  try {
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.pause(); // and never read again
    await until(() => s.manager.events.subscribers === 1, 'the subscription');
    const name = 'n'.repeat(60);
    let rounds = 0;
    while (s.manager.events.subscribers > 0) {
      if (++rounds > 200_000) throw new Error('the stalled client was never dropped');
      const id = s.manager.create(spec(`${name}${rounds % 10}`)).id;
      s.manager.remove(id);
      if (rounds % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.ok(s.logs.some((l) => /event stream .* client dropped: its console queue is full/.test(l)), s.logs.join('\n'));
  } finally {
    sock.destroy();
    await s.close();
  }
});

test('GET /v1/vms/{id}/logs: the kept output, its tail, and with follow what comes next until the VM stops', async () => {
  const s = await serve();
  try {
    const id = s.manager.create(spec('l')).id;
    let r = await fetch(`${s.url}/v1/vms/${id}/logs`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '', 'a VM that never started has no output');
    s.manager.start(id);
    const t = s.threads[0];
    t.emit({ t: 'console', bytes: enc('one\r\ntwo\r\nthree\r\n') });
    assert.equal(await (await fetch(`${s.url}/v1/vms/${id}/logs`)).text(), 'one\r\ntwo\r\nthree\r\n');
    assert.equal(await (await fetch(`${s.url}/v1/vms/${id}/logs?tail=2`)).text(), 'two\r\nthree\r\n');
    r = await fetch(`${s.url}/v1/vms/${id}/logs?follow=true&tail=1`);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    const body = r.text();
    t.emit({ t: 'console', bytes: enc('four\r\n') });
    s.manager.stop(id); // after the output: the response carries it, then ends
    assert.equal(await body, 'three\r\nfour\r\n', 'the response ends when the VM stops');
    assert.equal(await (await fetch(`${s.url}/v1/vms/${id}/logs?follow`)).text(), 'one\r\ntwo\r\nthree\r\nfour\r\n', 'a stopped VM: follow ends at once');
    r = await fetch(`${s.url}/v1/vms/${id}/logs?tail=x`);
    assert.equal(r.status, 400);
    assert.match((await r.json()).error.message, /tail must be a whole number/);
    assert.equal((await fetch(`${s.url}/v1/vms/ffffffff/logs`)).status, 404);
  } finally {
    await s.close();
  }
});
