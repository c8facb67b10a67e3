// `tvisor serve` against hostile or clumsy HTTP clients, end to end over real sockets: oversized bodies get a
// 413 (not a reset), slow clients are cut off, connections are capped, disconnects are logged as one line,
// the token can come from a private file or $TVISOR_TOKEN, an exhausted memory budget is 409, a paused VM
// stays paused across a daemon restart, and deleting a VM closes its consoles. VMs run a tiny idle kernel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { cliPath } from './lib/toolchain.js';
import { startDaemon, stopDaemon, api, waitFor, type Daemon } from './lib/daemon.js';
import { idleKernel } from '../src/core/machine/test-images.js';

let dir: string;
let kernel: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tvisor-serve-http-'));
  kernel = join(dir, 'idle.Image');
  writeFileSync(kernel, idleKernel());
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostPort = (d: Daemon) => {
  const u = new URL(d.url);
  return { host: u.hostname, port: Number(u.port) };
};

/** One request with node:http, on a connection of its own unless an `agent` keeps connections. */
function rawRequest(d: Daemon, method: string, path: string, body?: Buffer, headers: Record<string, string | number> = {}, agent: Agent | false = false) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; text: string; reusedSocket: boolean }>((resolve, reject) => {
    const req = request({ ...hostPort(d), method, path, agent, headers: { ...headers, ...(body ? { 'content-length': body.length } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && headers.expect === undefined) req.end(body);
    else if (body) req.on('continue', () => req.end(body)).flushHeaders();
    else req.end();
  });
}

/** Opens a TCP connection to the daemon; resolves once connected. */
function tcp(d: Daemon): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(hostPort(d));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with what the server sent once it closes the connection; rejects after `ms`. */
function closedByServer(s: Socket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    s.on('data', (c) => (got += c.toString('latin1')));
    s.on('error', () => {});
    const timer = setTimeout(() => reject(new Error(`the daemon kept the connection open for ${ms} ms; it sent: ${JSON.stringify(got)}`)), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function openConsole(d: Daemon, id: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${id}/console`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('serve: a 1 MiB body gets a 413 JSON answer, not a connection reset, and the connection is usable after', { timeout: 180_000 }, async () => {
  const d = await startDaemon(join(dir, 'state-413'), ['--allow-dir', dir]);
  try {
    const big = { name: 'big', vcpus: 1, memory_mib: 16, kernel, cmdline: 'x'.repeat(1 << 20) };
    const viaFetch = await api(d, 'POST', '/v1/vms', big); // undici, checked against the OpenAPI document
    assert.equal(viaFetch.status, 413);
    assert.equal(viaFetch.json.error.code, 'payload_too_large');
    assert.match(viaFetch.json.error.message, /has 1048\d{3} bytes; at most 65536 are accepted/);

    const body = Buffer.alloc(1 << 20, 0x20);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const viaHttp = await rawRequest(d, 'POST', '/v1/vms', body, { 'content-type': 'application/json' }, agent);
      assert.equal(viaHttp.status, 413);
      assert.equal(JSON.parse(viaHttp.text).error.code, 'payload_too_large');
      // the body was read to its end, so the connection carries the next request
      const next = await rawRequest(d, 'GET', '/v1/vms', undefined, {}, agent);
      assert.equal(next.status, 200);
      assert.equal(next.reusedSocket, true, 'the same connection');
    } finally {
      agent.destroy();
    }

    // a client that asks first (Expect: 100-continue) is refused before it sends the body
    const asked = await rawRequest(d, 'POST', '/v1/vms', body, { 'content-type': 'application/json', expect: '100-continue' });
    assert.equal(asked.status, 413);
    assert.equal(JSON.parse(asked.text).error.code, 'payload_too_large');

    assert.equal((await api(d, 'GET', '/v1/vms')).json.length, 0, 'nothing was created');
    assert.doesNotMatch(d.log(), /internal error/);
  } finally {
    await stopDaemon(d);
  }
});

test('serve: slow clients are cut off (headers, body, silence); a client leaving mid-body is one log line', { timeout: 180_000 }, async () => {
  const d = await startDaemon(join(dir, 'state-slow'), ['--allow-dir', dir, '--request-timeout', '3']);
  try {
    // slowloris: headers one byte at a time, never finished
    const loris = await tcp(d);
    loris.write('GET /v1/vms HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => loris.writable && loris.write('X'), 500);
    try {
      const got = await closedByServer(loris, 30_000);
      assert.match(got, /^HTTP\/1\.1 408 /, 'the daemon says why');
    } finally {
      clearInterval(drip);
    }
    // a connection that sends nothing at all
    await closedByServer(await tcp(d), 30_000);
    // a body that trickles in
    const trickle = await tcp(d);
    trickle.write('POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    const drop = setInterval(() => trickle.writable && trickle.write(' '), 500);
    try {
      await closedByServer(trickle, 30_000);
    } finally {
      clearInterval(drop);
    }

    // twenty clients leave in the middle of their bodies
    for (let i = 0; i < 20; i++) {
      const s = await tcp(d);
      s.on('error', () => {});
      await new Promise<void>((r) => s.write('POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name"', () => r()));
      s.destroy();
    }
    // (the trickling body above was logged the same way: the twenty come in one summary line at most 10 s later)
    const deadline = Date.now() + 30_000;
    while (!/7 of 1000 bytes/.test(d.log())) {
      if (Date.now() > deadline) throw new Error(`no log line about the disconnects:\n${d.log()}`);
      await sleep(100);
    }
    const lines = d.log().split('\n').filter((l) => /middle of POST/.test(l));
    assert.ok(lines.length >= 1 && lines.length < 5, `rate-limited, not one line per client: ${lines.length} lines`);
    assert.ok(lines.some((l) => /^tvisor: the connection from 127\.0\.0\.1 ended in the middle of POST \/v1\/vms: 7 of 1000 bytes of the body had arrived( \(and \d+ more like it in the last 10 s\))?$/.test(l)), lines.join('\n'));
    assert.doesNotMatch(d.log(), /internal error|\n\s+at /, 'no internal error, no stack trace');
    assert.equal((await api(d, 'GET', '/v1/vms')).status, 200, 'and the API answers');
  } finally {
    await stopDaemon(d);
  }
});

test('serve --max-connections: connections beyond the cap are refused until one closes', { timeout: 180_000 }, async () => {
  const d = await startDaemon(join(dir, 'state-conns'), ['--allow-dir', dir, '--max-connections', '3']);
  const sockets: WebSocket[] = [];
  try {
    const created = await rawRequest(d, 'POST', '/v1/vms', Buffer.from(JSON.stringify({ name: 'c', vcpus: 1, memory_mib: 16, kernel })), { 'content-type': 'application/json', connection: 'close' });
    assert.equal(created.status, 201, created.text);
    const id = JSON.parse(created.text).id;
    // console WebSockets hold their connections; earlier ones may take a moment to be counted as closed
    const deadline = Date.now() + 30_000;
    while (sockets.length < 3) {
      try {
        sockets.push(await openConsole(d, id));
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
    const fourth = await tcp(d).catch(() => null);
    if (fourth) {
      fourth.write('GET /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await closedByServer(fourth, 30_000), '', 'refused without an answer');
    }
    assert.match(d.log(), /refused a connection from \S+: 3 are open \(serve --max-connections\)/);
    sockets.pop()!.close();
    for (;;) {
      const r = await rawRequest(d, 'GET', '/v1/vms').catch(() => null);
      if (r) {
        assert.equal(r.status, 200);
        break;
      }
      if (Date.now() > deadline) throw new Error('the daemon took no connection after one closed');
      await sleep(200);
    }
  } finally {
    for (const s of sockets) s.close();
    await stopDaemon(d);
  }
});

test('serve --token-file and $TVISOR_TOKEN: the token need not be on the command line; loose files are refused', { timeout: 180_000 }, async () => {
  const file = join(dir, 'token');
  writeFileSync(file, 's3cret-token\n');
  chmodSync(file, 0o644);
  const loose = spawnSync(process.execPath, [cliPath, 'serve', '--listen', '127.0.0.1:0', '--token-file', file, '--state-dir', join(dir, 'state-tok0')], { encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(loose.status, 0);
  assert.match(loose.stderr, /--token-file .*token: other users may read or change it \(mode 0644\); make it private with: chmod 600 /);
  chmodSync(file, 0o600);

  const check = async (d: Daemon, token: string) => {
    const get = (auth?: string) => fetch(`${d.url}/v1/vms`, { headers: auth ? { authorization: auth } : {} });
    assert.equal((await get()).status, 401);
    assert.equal((await get('Bearer wrong')).status, 401);
    assert.equal((await get(`Bearer ${token}x`)).status, 401);
    assert.equal((await get(`Bearer ${token}`)).status, 200);
    await assert.rejects(openConsole(d, '00000000'), /401/);
  };
  const d1 = await startDaemon(join(dir, 'state-tok1'), ['--token-file', file]);
  try {
    await check(d1, 's3cret-token');
    assert.doesNotMatch(spawnSync('ps', ['-o', 'args=', '-p', String(d1.child.pid)], { encoding: 'utf8' }).stdout, /s3cret/);
    // the CLI side: --token-file, and $TVISOR_TOKEN
    const ps = (args: string[], env: Record<string, string> = {}) => {
      const { TVISOR_TOKEN: _, ...inherited } = process.env;
      return spawnSync(process.execPath, [cliPath, 'ps', '--api', d1.url, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...inherited, ...env } });
    };
    assert.equal(ps(['--token-file', file]).status, 0, ps(['--token-file', file]).stderr);
    assert.equal(ps([], { TVISOR_TOKEN: 's3cret-token' }).status, 0);
    assert.equal(ps(['--token', 's3cret-token']).status, 0, '--token still works');
    const none = ps([]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /missing or wrong API token/);
  } finally {
    await stopDaemon(d1);
  }
  const d2 = await startDaemon(join(dir, 'state-tok2'), [], { TVISOR_TOKEN: 'from-the-environment' });
  try {
    await check(d2, 'from-the-environment');
  } finally {
    await stopDaemon(d2);
  }
});

test('serve: an exhausted memory budget is 409 insufficient_memory, saying what is free and what to do', { timeout: 180_000 }, async () => {
  const d = await startDaemon(join(dir, 'state-budget'), ['--allow-dir', dir, '--memory-budget', '40M']);
  try {
    assert.equal((await api(d, 'POST', '/v1/vms', { name: 'a', vcpus: 1, memory_mib: 24, kernel })).status, 201);
    const full = await api(d, 'POST', '/v1/vms', { name: 'b', vcpus: 1, memory_mib: 24, kernel });
    assert.equal(full.status, 409);
    assert.equal(full.json.error.code, 'insufficient_memory');
    assert.match(full.json.error.message, /needs 24 MiB but only 16 MiB of the daemon's 40 MiB memory budget are free .*delete VMs/);
  } finally {
    await stopDaemon(d);
  }
});

test('serve: a paused VM stays paused across a daemon restart and runs only once resumed', { timeout: 180_000 }, async () => {
  const state = join(dir, 'state-paused');
  const d1 = await startDaemon(state, ['--allow-dir', dir]);
  let id: string;
  try {
    id = (await api(d1, 'POST', '/v1/vms', { name: 'p', vcpus: 1, memory_mib: 16, kernel })).json.id;
    assert.equal((await api(d1, 'POST', `/v1/vms/${id}/start`)).status, 200);
    await waitFor(d1, id, (v) => v.stats.instructions > 0, 'the VM runs');
    assert.equal((await api(d1, 'POST', `/v1/vms/${id}/pause`)).json.state, 'paused');
  } finally {
    await stopDaemon(d1);
  }
  const d2 = await startDaemon(state, ['--allow-dir', dir]);
  try {
    const v = (await api(d2, 'GET', `/v1/vms/${id}`)).json;
    assert.equal(v.state, 'paused');
    await sleep(2000); // time in which a running VM would have had many slices
    const still = (await api(d2, 'GET', `/v1/vms/${id}`)).json;
    assert.equal(still.state, 'paused');
    assert.equal(still.stats.instructions, 0, 'the guest has not run a single slice');
    assert.equal(still.stats.cpu_time_ns, 0);
    assert.equal((await api(d2, 'POST', `/v1/vms/${id}/resume`)).json.state, 'running');
    await waitFor(d2, id, (x) => x.stats.instructions > 0, 'the resumed VM runs');
  } finally {
    await stopDaemon(d2);
  }
});

test('serve: consoles outlive the request timeout; deleting a VM closes them with 4404 "VM deleted"', { timeout: 60_000 }, async () => {
  const d = await startDaemon(join(dir, 'state-del'), ['--allow-dir', dir, '--request-timeout', '1']);
  try {
    const id = (await api(d, 'POST', '/v1/vms', { name: 'del', vcpus: 1, memory_mib: 16, kernel })).json.id;
    const consoles = [await openConsole(d, id), await openConsole(d, id)];
    const closed = consoles.map((ws) => new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()]))));
    await sleep(3000); // longer than the request timeout: that applies to requests, not to open consoles
    for (const ws of consoles) assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal((await api(d, 'DELETE', `/v1/vms/${id}`)).status, 204);
    for (const c of closed) assert.deepEqual(await c, [4404, 'VM deleted']);
  } finally {
    await stopDaemon(d);
  }
});
