// `tvisor serve` under hostile streams, end to end with the real Debian guest: a guest floods its serial
// console while ~100 console clients never read (their sockets fill), one client pauses and must be told what
// it skipped, one reads everything, and another client pours 64 KiB input messages into a paused VM; the API
// must keep answering quickly, the daemon's RSS must stay bounded and SIGTERM must still stop it promptly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startDaemon, stopDaemon, api, type Daemon } from './lib/daemon.js';
import { appendAutorun, ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

// as fast as the guest can print, without a fork per line
const FLOOD = 'cat /proc/cpuinfo\nyes "processor flood $(seq -s . 1 40)"\n';

let guest: GuestImage;
let dir: string;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-serve-flood-'));
  writeFileSync(join(dir, 'flood.cpio'), appendAutorun(readFileSync(guest.initrd), FLOOD));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const NON_READERS = Number(process.env.TVISOR_FLOOD_CLIENTS ?? 100);
/** How long the API is probed while everything misbehaves. */
const PROBE_MS = Number(process.env.TVISOR_FLOOD_PROBE_MS ?? 30_000);
const PROBES = 100;
// (TVISOR_FLOOD_NO_INPUT=1 leaves the input flood out, to measure the output side alone.)

/** The daemon's resident memory; fails the test if the daemon is gone. */
function rssMib(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    throw new Error(`the daemon (pid ${pid}) is gone`);
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Bytes the daemon's kernel holds unsent on its end of the connection from local port `clientPort`
 * (/proc/net/tcp tx_queue), or -1 when the connection is not found.
 */
function daemonSendQueue(daemonPort: number, clientPort: number): number {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[1].endsWith(`:${hex(daemonPort)}`) || !f[2].endsWith(`:${hex(clientPort)}`)) continue;
    return parseInt(f[4].split(':')[0], 16);
  }
  return -1;
}

/** A raw TCP client that completes the WebSocket handshake request and then never reads a byte. */
function nonReader(d: Daemon, id: string): Socket {
  const u = new URL(d.url);
  const s = connect(Number(u.port), u.hostname);
  s.on('error', () => {});
  s.write(
    `GET /v1/vms/${id}/console HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  s.pause();
  return s;
}

/** A console client that reads everything and keeps the last 64 KiB of output, with counts of what came. */
async function reader(d: Daemon, id: string) {
  const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${id}/console`);
  const r = { ws, bytes: 0, tail: '', events: [] as any[] };
  ws.on('message', (data, binary) => {
    if (!binary) {
      r.events.push(JSON.parse(String(data)));
      return;
    }
    const b = data as Buffer;
    r.bytes += b.length;
    r.tail = (r.tail + b.toString('latin1')).slice(-65536);
  });
  await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
  return r;
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One GET /v1/vms/{id}: its latency in ms, or Infinity when unanswered within 10 s. */
async function probe(d: Daemon, id: string): Promise<number> {
  const t0 = performance.now();
  try {
    const r = await fetch(`${d.url}/v1/vms/${id}`, { signal: AbortSignal.timeout(10_000) });
    await r.json();
    return r.status === 200 ? performance.now() - t0 : Infinity;
  } catch {
    return Infinity;
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

test('serve: a flooding guest, 100 non-reading consoles and an input flood leave the API answering', { timeout: 900_000 }, async () => {
  const d = await startDaemon(join(dir, 'state'), ['--allow-dir', dir, '--allow-dir', guest.dir]);
  const pid = d.child.pid!;
  const sockets: Socket[] = [];
  const clients: WebSocket[] = [];
  let flooding = true;
  try {
    const create = async (name: string, initrd: string) => {
      const r = await api(d, 'POST', '/v1/vms', { name, vcpus: 1, memory_mib: 256, kernel: guest.kernel, initrd });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json.id as string;
    };
    const flood = await create('flood', join(dir, 'flood.cpio'));
    const quiet = await create('quiet', guest.initrd);
    const all = await reader(d, flood);
    clients.push(all.ws);
    assert.equal((await api(d, 'POST', `/v1/vms/${quiet}/start`)).status, 200);
    assert.equal((await api(d, 'POST', `/v1/vms/${quiet}/pause`)).json.state, 'paused');
    assert.equal((await api(d, 'POST', `/v1/vms/${flood}/start`)).status, 200);
    await until('the guest floods its console', () => /processor flood 1\.2\.3/.test(all.tail), 300_000);
    const rssBefore = rssMib(pid);

    const slow = await reader(d, flood);
    clients.push(slow.ws);
    for (let i = 0; i < NON_READERS; i++) sockets.push(nonReader(d, flood));
    // 64 KiB input messages, back to back, into the paused VM
    const typist = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${quiet}/console`);
    clients.push(typist);
    typist.on('error', () => {});
    await new Promise((ok, fail) => typist.once('open', ok).once('error', fail));
    const paste = Buffer.alloc(65536, 'x');
    let typed = 0;
    // (flow control holds the typist back: its last send may never complete while the VM is paused)
    void (async () => {
      while (process.env.TVISOR_FLOOD_NO_INPUT === undefined && flooding && typist.readyState === WebSocket.OPEN) {
        await new Promise<void>((ok) => typist.send(paste, () => ok()));
        typed += paste.length;
      }
    })();

    const latencies: number[] = [];
    let rssMax = rssBefore;
    const t0 = Date.now();
    const seenAtStart = all.bytes;
    for (let i = 0; i < PROBES && Date.now() - t0 < PROBE_MS * 2; i++) {
      latencies.push(await probe(d, flood));
      rssMax = Math.max(rssMax, rssMib(pid));
      await new Promise((r) => setTimeout(r, PROBE_MS / PROBES));
    }
    const seenMid = all.bytes;
    await new Promise((r) => setTimeout(r, 2000));
    rssMax = Math.max(rssMax, rssMib(pid));
    flooding = false;
    const sorted = [...latencies].sort((a, b) => a - b);
    const figures = {
      probes: latencies.length, p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted.at(-1),
      unanswered: latencies.filter((l) => !Number.isFinite(l)).length,
      rssBeforeMib: rssBefore, rssMaxMib: rssMax, readerMiB: (all.bytes - seenAtStart) / 2 ** 20, typedMiB: typed / 2 ** 20,
      probeSeconds: (Date.now() - t0) / 1000,
      stuckClientsDropped: d.log().split('\n').filter((l) => /console client of VM \S+ dropped/.test(l)).length,
    };
    process.stderr.write(`# flood figures: ${JSON.stringify(figures)}\n`);

    assert.equal(figures.unanswered, 0, 'every API request is answered within 10 s');
    assert.ok(figures.p50 < 100, `median latency ${figures.p50} ms`);
    assert.ok(figures.max! < 5000, `slowest request ${figures.max} ms`);
    assert.ok(rssMax - rssBefore < 200, `RSS grew from ${rssBefore} to ${rssMax} MiB`);
    assert.ok(seenMid > seenAtStart && all.bytes > seenMid, 'the reading client kept getting output');
    // flow control: the paused VM's console takes 64 KiB, the rest waits in TCP buffers (tens of MiB at most)
    // where the daemon used to read and queue input as fast as the client could send it
    assert.ok(figures.typedMiB < 64, `the typist got ${figures.typedMiB} MiB into the daemon`);
    assert.match(all.tail, /processor/);
    assert.equal((await api(d, 'GET', `/v1/vms/${flood}`)).json.state, 'running');
    assert.equal((await api(d, 'GET', `/v1/vms/${quiet}`)).json.state, 'paused');

    // a client that stops reading (for less than the 30 s after which a stuck client is dropped): once the
    // kernel's buffers of its connection are full (the daemon's send queue stops growing) and 512 KiB more
    // output has come, the daemon must have skipped some for it; it reads again and hears how much it
    // skipped, then recent output
    slow.ws.pause();
    const slowPort = (slow.ws as unknown as { _socket: Socket })._socket.localPort!;
    let last = -2;
    let still = 0;
    await until('the paused client\'s connection is full', () => {
      const q = daemonSendQueue(Number(new URL(d.url).port), slowPort);
      still = q > 0 && q === last ? still + 1 : 0;
      last = q;
      return still >= 10; // 2 s without growing while the guest floods
    }, 300_000);
    const stalledAt = all.bytes;
    await until('512 KiB more output', () => all.bytes > stalledAt + 512 * 1024, 120_000);
    slow.ws.resume();
    await until('the slow client is told what it skipped', () => slow.events.some((e) => e.event === 'skipped' && e.bytes > 0), 60_000);
    const since = slow.bytes;
    await until('the slow client gets output again', () => slow.bytes > since + 4096, 60_000);

    const stopping = Date.now();
    const exited = new Promise((r) => d.child.once('exit', r));
    d.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    const stopMs = Date.now() - stopping;
    process.stderr.write(`# SIGTERM to exit: ${stopMs} ms\n`);
    assert.notEqual(d.child.exitCode ?? d.child.signalCode, null, 'SIGTERM stops the daemon');
    assert.ok(stopMs < 10_000, `stopped after ${stopMs} ms`);
  } catch (e) {
    process.stderr.write(`# daemon log (tail):\n${d.log().slice(-3000)}\n`);
    throw e;
  } finally {
    flooding = false;
    for (const s of sockets) s.destroy();
    for (const c of clients) c.terminate();
    if (d.child.exitCode === null && d.child.signalCode === null) {
      const exited = new Promise((r) => d.child.once('exit', r));
      d.child.kill('SIGKILL');
      await exited;
    }
  }
});


test('serve: a paste of a few KiB into a running guest\'s shell arrives whole', { timeout: 600_000 }, async () => {
  const d = await startDaemon(join(dir, 'state-paste'), ['--allow-dir', dir, '--allow-dir', guest.dir]);
  try {
    const r = await api(d, 'POST', '/v1/vms', { name: 'paste', vcpus: 1, memory_mib: 128, kernel: guest.kernel, initrd: guest.initrd });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id as string;
    const con = await reader(d, id);
    try {
      assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
      await until('the shell prompt', () => /\/ # /.test(con.tail), 300_000);
      // 16 lines of 250 characters in one message (4.1 KiB): far more than the UART's 16-byte FIFO
      const lines = Array.from({ length: 16 }, (_, i) => `echo ${String.fromCharCode(97 + i).repeat(249)} >> /tmp/paste`);
      con.ws.send(Buffer.from(`${lines.join('\n')}\nwc -c < /tmp/paste\n`));
      await until('the guest counts every pasted byte', () => /^4000\r?$/m.test(con.tail), 120_000);
    } finally {
      con.ws.terminate();
    }
  } finally {
    await stopDaemon(d);
  }
});
