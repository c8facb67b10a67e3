// The web console's serving and its guards, on a real server with a fake VM manager: the page and its assets
// from a build directory (nothing else is reachable through /assets/, ETags revalidate, a missing build says
// how to make it), API requests from other origins and rebound host names refused, the token carried by a
// WebSocket subprotocol, and GET /v1/stats pushing samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { bearerFromProtocols, checkBrowserOrigin, createApiServer } from './server.js';
import { WebAssets } from './web-assets.js';
import { ApiError } from '../hypervisor/errors.js';
import { fakeManager } from '../hypervisor/test-manager.js';

function buildDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-web-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'assets', 'console.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'not served');
  return dir;
}

async function serve(web: WebAssets, token?: string) {
  const f = fakeManager();
  const server = createApiServer({ manager: f.manager, allowedDirs: [], log: () => {}, web, token });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return { ...f, url: `http://127.0.0.1:${port}`, port, close };
}

test('the page and its assets come from the build; nothing else is reachable, ETags revalidate', async (t) => {
  const dir = buildDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = await serve(new WebAssets(dir));
  try {
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    assert.equal(await page.text(), '<!doctype html><title>t</title>');
    const js = await fetch(`${s.url}/assets/console.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const again = await fetch(`${s.url}/assets/console.js`, { headers: { 'if-none-match': js.headers.get('etag')! } });
    assert.equal(again.status, 304);
    for (const path of ['/assets/../secret.txt', '/assets/%2e%2e%2fsecret.txt', '/secret.txt', '/assets/', '/assets/.hidden']) {
      const r = await fetch(`${s.url}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal((await r.json()).error.code, 'not_found');
    }
    const post = await fetch(`${s.url}/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await s.close();
  }
});

test('a daemon without a built console says how to build it; its API still works', async () => {
  const s = await serve(new WebAssets(join(tmpdir(), 'tvisor-no-such-build')));
  try {
    const r = await fetch(`${s.url}/`);
    assert.equal(r.status, 404);
    assert.match((await r.json()).error.message, /the web console is not built \(npm run build/);
    assert.equal((await fetch(`${s.url}/v1/vms`)).status, 200);
  } finally {
    await s.close();
  }
});

test('browser requests: only the daemon\'s own page, by address unless there is a token', () => {
  const refused = (headers: Record<string, string>, token = false) => {
    try {
      checkBrowserOrigin(headers, token);
      return null;
    } catch (e) {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 'forbidden_origin');
      return e.message;
    }
  };
  // not a browser: nothing to check
  assert.equal(refused({ host: 'anything.example' }), null);
  // the page's own requests
  assert.equal(refused({ host: '127.0.0.1:7477', origin: 'http://127.0.0.1:7477' }), null);
  assert.equal(refused({ host: '[::1]:7477', 'sec-fetch-site': 'same-origin' }), null);
  assert.equal(refused({ host: 'localhost:7477', origin: 'http://localhost:7477', 'sec-fetch-site': 'same-origin' }), null);
  assert.equal(refused({ host: '127.0.0.1:7477', 'sec-fetch-site': 'none' }), null);
  // another site's page (a WebSocket always sends Origin; fetch sends it cross-origin)
  assert.match(refused({ host: '127.0.0.1:7477', origin: 'http://evil.example' })!, /origin "http:\/\/evil.example" is not this daemon's/);
  assert.match(refused({ host: '127.0.0.1:7477', origin: 'null' })!, /origin "null"/);
  assert.match(refused({ host: '127.0.0.1:7477', 'sec-fetch-site': 'cross-site' })!, /Sec-Fetch-Site is "cross-site"/);
  assert.match(refused({ host: '127.0.0.1:7477', origin: 'http://127.0.0.1:8000' })!, /is not this daemon's/);
  // DNS rebinding: the page is same-origin with itself under another site's name
  assert.match(refused({ host: 'evil.example:7477', origin: 'http://evil.example:7477' })!, /a host name rather than an address/);
  // ... which a token makes harmless (the page cannot know it): a name is then allowed
  assert.equal(refused({ host: 'vmhost.lan:7477', origin: 'http://vmhost.lan:7477' }, true), null);
});

test('the token as a WebSocket subprotocol: tvisor.bearer.<base64url>', () => {
  const b64 = Buffer.from('s3cret/+=', 'utf8').toString('base64url');
  assert.equal(bearerFromProtocols(`tvisor, tvisor.bearer.${b64}`), 'Bearer s3cret/+=');
  assert.equal(bearerFromProtocols('tvisor'), undefined);
  assert.equal(bearerFromProtocols(undefined), undefined);
});

test('the console WebSocket takes the token as a subprotocol and selects tvisor; without it, 401', async () => {
  const s = await serve(new WebAssets(join(tmpdir(), 'tvisor-no-such-build')), 'tok');
  try {
    const id = s.manager.create({ name: 'w', vcpus: 1, memory_mib: 16, kernel: '/k', weight: 256, cap: 0, disks: [], nics: [] }).id;
    const open = (protocols: string[]) => new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/v1/vms/${id}/console`, protocols, { origin: s.url });
      ws.on('open', () => {
        resolve(`open ${ws.protocol}`);
        ws.close();
      });
      ws.on('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
      ws.on('error', () => {});
    });
    assert.equal(await open(['tvisor', `tvisor.bearer.${Buffer.from('tok').toString('base64url')}`]), 'open tvisor');
    assert.equal(await open(['tvisor', `tvisor.bearer.${Buffer.from('nope').toString('base64url')}`]), 'refused 401');
    assert.equal(await open(['tvisor']), 'refused 401');
    const cross = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/v1/vms/${id}/console`, ['tvisor', `tvisor.bearer.${Buffer.from('tok').toString('base64url')}`], { origin: 'http://evil.example' });
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
      ws.on('error', () => {});
    });
    assert.equal(cross, 'refused 403');
  } finally {
    await s.close();
  }
});

test('GET /v1/stats pushes one sample per interval with every VM', async () => {
  const s = await serve(new WebAssets(join(tmpdir(), 'tvisor-no-such-build')));
  try {
    s.manager.create({ name: 'a', vcpus: 1, memory_mib: 16, kernel: '/k', weight: 300, cap: 0, disks: [], nics: [] });
    const res = await fetch(`${s.url}/v1/stats?interval_ms=200`);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (text.split('\n').length < 3) text += (await reader.read()).value ?? '';
    await reader.cancel();
    const [first, second] = text.split('\n').slice(0, 2).map((l) => JSON.parse(l));
    assert.deepEqual(first.vms.map((v: { name: string; weight: number }) => [v.name, v.weight]), [['a', 300]]);
    assert.equal(first.host.vms, 1);
    assert.equal(first.host.pcpus, 1);
    assert.ok(Date.parse(second.time) >= Date.parse(first.time), 'samples in order');
  } finally {
    await s.close();
  }
});
