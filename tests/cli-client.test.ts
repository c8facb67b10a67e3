// The CLI as a client of `tvisor serve`, end to end with the real Debian guest: create, ps, start, console
// (over the WebSocket: see the boot, type a command, read its answer), top, update, pause/resume, stop, rm,
// and the errors a user meets (unknown VM, no daemon, bad options, refused WebSocket upgrades).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { cliPath } from './lib/toolchain.js';
import { startDaemon, stopDaemon, type Daemon } from './lib/daemon.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';
import { DEFAULT_CMDLINE } from '../src/cli/run.js';

let guest: GuestImage;
let dir: string;
let d: Daemon;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-cli-'));
  d = await startDaemon(join(dir, 'state'), ['--allow-dir', guest.dir]);
});
after(async () => {
  if (d) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

function tvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args, '--api', d.url], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `tvisor console` children still running: a failed test must not leave them (or its VMs) behind. */
const consoles = new Set<ReturnType<typeof spawn>>();
after(() => {
  for (const c of consoles) c.kill('SIGKILL');
});

/** Removes the named VMs, running or not, whatever state a failed test left them in. */
function cleanUp(...names: string[]): void {
  for (const name of names) spawnSync(process.execPath, [cliPath, 'rm', '-f', name, '--api', d.url], { timeout: 120_000 });
}

/**
 * `tvisor console VM` as a child: its output so far, a way to type, its exit, and waits for a pattern on
 * stdout or stderr (deadlines for a hang, not measurements: generous, as a boot on a loaded machine takes
 * minutes; a console that exits first fails at once).
 */
function attach(vm: string) {
  const child = spawn(process.execPath, [cliPath, 'console', vm, '--api', d.url], { stdio: ['pipe', 'pipe', 'pipe'] });
  consoles.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => {
    consoles.delete(child);
    r(code);
  }));
  const waitIn = async (text: () => string, what: RegExp, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (!what.test(text())) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`console: no ${what} in:\n${out}\nstderr: ${err}\n${d.log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (what: RegExp, ms = 300_000) => waitIn(() => out, what, ms),
    /** Until the console says it is connected (its WebSocket is open). */
    connected: (ms = 120_000) => waitIn(() => err, /tvisor: connected to /, ms),
  };
}

test('the CLI drives the daemon: create, ps, start, console, top, update, pause, resume, stop, rm', async (t) => {
  t.after(() => cleanUp('web'));
  const created = tvisor('create', 'web', '--memory', '128M', '--weight', '300');
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  assert.match(id, /^[0-9a-f]{8}$/, 'create prints the new id');

  const ps = tvisor('ps');
  assert.equal(ps.status, 0, ps.stderr);
  assert.match(ps.stdout, /^ID\s+NAME\s+STATE/m);
  assert.match(ps.stdout, new RegExp(`^${id}\\s+web\\s+created\\s+1\\s+128 MiB\\s+300\\b`, 'm'));
  assert.equal(tvisor('ps', '-q').stdout, `${id}\n`);
  assert.equal(JSON.parse(tvisor('ps', '--json').stdout)[0].config.memory_mib, 128);

  // Attach before start: the console shows the whole boot, then takes input.
  const con = attach('web');
  await con.connected();
  const started = tvisor('start', id.slice(0, 4)); // a unique id prefix names the VM too
  assert.equal(started.status, 0, started.stderr);
  assert.equal(started.stdout, `web (${id}): running\n`);
  await con.waitFor(/tvisor guest: Linux 6\.\d+/); // the initramfs's banner (the kernel boots quiet)
  await con.waitFor(/\/ # /);
  con.child.stdin.write('echo hi-$((6*7))\n');
  await con.waitFor(/^hi-42\r?\n[^]*\/ # /m);
  // the prompt's cursor position query (busybox's ESC [ 6 n) is dropped when the console is no terminal
  assert.ok(!con.out().includes('\x1b[6n'), 'no literal cursor position query');
  con.child.kill('SIGINT');
  assert.equal(await con.exited, 0, 'SIGINT detaches');
  assert.match(con.err(), /connected to web .*\n[^]*detached; the VM keeps running/);

  const top = tvisor('top', '-n', '1', '-d', '1');
  assert.equal(top.status, 0, top.stderr);
  assert.match(top.stdout, /1 VM, 1 running/);
  const row = new RegExp(`^web\\s+${id}\\s+running\\s+(\\d+\\.\\d)\\s+(\\d+\\.\\d)\\s+(\\d+\\.\\d)\\s`, 'm').exec(top.stdout);
  assert.ok(row, `top has a row for web:\n${top.stdout}`);
  assert.ok(Number(row[1]) <= 100.5, 'one vCPU uses at most one host CPU');

  const upd = tvisor('update', 'web', '--weight', '1000', '--cap', '50');
  assert.equal(upd.status, 0, upd.stderr);
  const info = JSON.parse(tvisor('inspect', 'web').stdout);
  assert.equal(info.config.weight, 1000);
  assert.equal(info.config.cap, 50);
  assert.ok(info.stats.instructions > 100_000_000, 'inspect shows the stats');

  assert.equal(tvisor('pause', 'web').stdout, `web (${id}): paused\n`);
  assert.match(tvisor('ps').stdout, new RegExp(`^${id}\\s+web\\s+paused`, 'm'));
  assert.equal(tvisor('resume', 'web').stdout, `web (${id}): running\n`);

  const refused = tvisor('rm', 'web');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^tvisor: web is running: stop it first \('tvisor stop web'\), or delete it anyway with 'tvisor rm -f web'$/m);

  // A console attached when the VM stops says so and ends with status 0.
  const con2 = attach(id);
  await con2.waitFor(/hi-42/); // the recent output is replayed first
  assert.equal(tvisor('stop', 'web').status, 0);
  assert.equal(await con2.exited, 0);
  assert.match(con2.err(), /web stopped/);

  const rm = tvisor('rm', 'web');
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(tvisor('ps', '-q').stdout, '');
});

test('CLI errors: unknown VM and unreachable daemon exit 1, usage mistakes exit 2; rm --force stops first', (t) => {
  t.after(() => cleanUp('twin', 'lim'));
  const unknown = tvisor('start', 'nosuch');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /^tvisor: no VM named or with id 'nosuch'/);

  const r = spawnSync(process.execPath, [cliPath, 'ps', '--api', '127.0.0.1:1'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach the daemon at http:\/\/127\.0\.0\.1:1: nothing is listening there/);

  for (const args of [['create', '--vcpus', '0'], ['create', '--memory', 'lots'], ['update', 'x'], ['console'], ['top', '-d', '0'], ['ps', 'extra']]) {
    const bad = tvisor(...args);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /Run 'tvisor \w+ --help' for usage/);
  }
  // the default guest: it keeps running (a bare kernel in 64 MiB panics within a second, before the update below)
  const dup1 = tvisor('create', 'twin', '--memory', '128M');
  assert.equal(dup1.status, 0, dup1.stderr);
  const dup2 = tvisor('create', 'twin', '--memory', '128M');
  assert.equal(dup2.status, 1);
  assert.match(dup2.stderr, /twin/);
  const outside = tvisor('create', 'o', '--kernel', '/etc/passwd');
  assert.equal(outside.status, 1);
  assert.match(outside.stderr, /not in a directory this daemon allows/);

  const lim = tvisor('create', 'lim', '--kernel', guest.kernel, '--memory', '64M', '--nic', 'mac=02:00:00:00:00:01,bw=1M,pps=100');
  assert.equal(lim.status, 0, lim.stderr);
  assert.deepEqual(JSON.parse(tvisor('inspect', 'lim').stdout).config.nics, [{
    mac: '02:00:00:00:00:01',
    rate_limiter: { bandwidth: { size: 2 ** 20, refill_time_ms: 1000 }, ops: { size: 100, refill_time_ms: 1000 } },
  }]);
  assert.equal(tvisor('rm', 'lim').status, 0);
  assert.equal(tvisor('create', 'x', '--nic', 'bw=1Q').status, 2);

  assert.equal(tvisor('start', 'twin').status, 0);
  const running = tvisor('rm', 'twin');
  assert.equal(running.status, 1);
  assert.match(running.stderr, /^tvisor: twin is running: stop it first \('tvisor stop twin'\), or delete it anyway with 'tvisor rm -f twin'\n$/);
  const balloon = tvisor('update', 'twin', '--balloon', '16M');
  assert.equal(balloon.status, 0, balloon.stderr);
  assert.match(balloon.stdout, /^twin \([0-9a-f]{8}\): weight 256, cap none, balloon target 16 MiB of 128 MiB \(the guest has given back \d+ MiB so far; see 'tvisor inspect twin'\)\n$/);
  const forced = tvisor('rm', '-f', 'twin');
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(tvisor('ps', '-q').stdout, '');
});

test('create: --append adds to the default command line, --cmdline replaces it; default size as tvisor run', async () => {
  const plain = tvisor('create', 'plain');
  assert.equal(plain.status, 0, plain.stderr);
  const info = JSON.parse(tvisor('inspect', 'plain').stdout);
  assert.equal(info.config.memory_mib, 256, 'the default memory, the same as tvisor run');
  assert.equal(info.config.vcpus, 1);
  assert.equal(info.config.cmdline, undefined, 'no --append or --cmdline: the daemon\'s default');

  assert.equal(tvisor('create', 'appended', '--append', 'root=/dev/vda', '--cpus', '2').status, 0);
  const appended = JSON.parse(tvisor('inspect', 'appended').stdout).config;
  assert.equal(appended.cmdline, `${DEFAULT_CMDLINE} root=/dev/vda`);
  assert.equal(appended.vcpus, 2, '--cpus is --vcpus');

  assert.equal(tvisor('create', 'replaced', '--cmdline', 'console=ttyS0 loglevel=8', '--append', 'x=1').status, 0);
  assert.equal(JSON.parse(tvisor('inspect', 'replaced').stdout).config.cmdline, 'console=ttyS0 loglevel=8 x=1');
  for (const name of ['plain', 'appended', 'replaced']) assert.equal(tvisor('rm', name).status, 0);
  // the daemon logged each request: method, path, status, time (read once this process's event loop runs:
  // spawnSync held it while the commands ran)
  const logged = /^tvisor: DELETE \/v1\/vms\/[0-9a-f]{8} 204 \d+\.\d ms$/m;
  for (const end = Date.now() + 60_000; !logged.test(d.log()) && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  assert.match(d.log(), logged);
  assert.match(d.log(), /^tvisor: POST \/v1\/vms 201 \d+\.\d ms$/m);
});

test('console WebSocket: upgrades are refused with JSON errors for unknown VMs and other paths', async () => {
  const refused = (path: string) => new Promise<{ status: number; body: any }>((resolve, reject) => {
    const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}${path}`);
    ws.once('open', () => reject(new Error(`${path} was upgraded`)));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', reject);
  });
  const unknown = await refused('/v1/vms/ffffffff/console');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'not_found');
  const other = await refused('/v1/vms');
  assert.equal(other.status, 400);
  assert.match(other.body.error.message, /only GET \/v1\/vms\/\{id\}\/console/);
});
