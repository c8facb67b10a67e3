// `tvisor logs`, `restart` and `events` against a real daemon and the Debian guest: the event stream sees
// create, start, a guest reboot, a restart, a guest poweroff and the delete (in human and JSON form); logs
// prints the kept output, its tail, and follows new output until the VM stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './lib/toolchain.js';
import { api, startDaemon, stopDaemon, typeLine, type Daemon } from './lib/daemon.js';
import { openApiDocument } from '../src/api/openapi.js';
import { validateSchema } from '../src/api/schema.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

let guest: GuestImage;
let dir: string;
let d: Daemon;
const children: ReturnType<typeof spawn>[] = [];

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-ops-'));
  d = await startDaemon(join(dir, 'state'), ['--allow-dir', guest.dir]);
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (d) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

function tvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args, '--api', d.url], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running `tvisor ARGS` child: its output so far and its exit. */
function background(...args: string[]) {
  const child = spawn(process.execPath, [cliPath, ...args, '--api', d.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    exited,
    out: () => out,
    err: () => err,
    async waitFor(what: RegExp, ms = 240_000): Promise<void> {
      const end = Date.now() + ms;
      while (!what.test(out)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`tvisor ${args.join(' ')}: no ${what} in:\n${out}\nstderr: ${err}\n${d.log()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/** Polls `tvisor logs VM` until its output matches. */
async function logsUntil(vm: string, ok: (text: string) => boolean, what: string, ms = 240_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const r = tvisor('logs', vm);
    assert.equal(r.status, 0, r.stderr);
    if (ok(r.stdout)) return r.stdout;
    if (Date.now() > end) throw new Error(`logs of ${vm}: ${what}: gave up on:\n${r.stdout}\n${d.log()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const prompts = (text: string) => text.split('/ # ').length - 1;

test('events, logs and restart with the Debian guest', async () => {
  const json = background('events', '--json');
  const human = background('events');
  // the streams are open once the daemon has its subscribers; a create before that would be missed
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; !/\bcreated\b/.test(json.out()); i++) {
    // a throwaway VM proves the subscription is live before the real sequence starts
    if (i % 10 === 0) assert.equal(tvisor('create', `probe${i}`, '--memory', '64M').status, 0);
    if (i > 100) throw new Error(`the event stream shows nothing:\n${json.err()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const line of tvisor('ps', '-q').stdout.trim().split('\n')) tvisor('rm', line);

  const created = tvisor('create', 'ops', '--memory', '128M');
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  assert.equal(tvisor('logs', 'ops').stdout, '', 'a VM that never started has no output');
  assert.equal(tvisor('start', 'ops').status, 0);
  let text = await logsUntil('ops', (t) => prompts(t) >= 1, 'the first prompt');
  assert.match(text, /tvisor guest: Linux 6\.\d+/);

  // --tail: the last lines only; -f: then new output, until the VM stops
  const tail = tvisor('logs', '--tail', '1', 'ops');
  assert.equal(tail.status, 0, tail.stderr);
  assert.ok(tail.stdout.startsWith('/ # ') && !tail.stdout.includes('\n'), `the last line (the prompt, not yet ended): ${JSON.stringify(tail.stdout)}`);
  const follow = background('logs', '-f', 'ops');
  await follow.waitFor(/\/ # /);
  await typeLine(d, id, 'echo mark-$((6*7))');
  await follow.waitFor(/^mark-42\r?$/m);

  // a reboot inside the guest: the VM keeps running; the event stream says so
  await typeLine(d, id, 'reboot -f');
  await json.waitFor(/"event":"rebooted"/);
  text = await logsUntil('ops', (t) => prompts(t) >= 3, 'the prompt after the reboot');
  assert.equal(JSON.parse(tvisor('inspect', 'ops').stdout).state, 'running');

  // restart: stop then start; the following logs end with the stop (status 0)
  const restarted = tvisor('restart', 'ops');
  assert.equal(restarted.status, 0, restarted.stderr);
  assert.equal(restarted.stdout, `ops (${id}): running\n`);
  assert.equal(await follow.exited, 0, follow.err());
  assert.match(follow.out(), /mark-42[^]*reboot -f/, 'the follower saw everything up to the restart');
  await logsUntil('ops', (t) => prompts(t) >= 1 && !t.includes('mark-42'), 'the prompt after the restart (the kept output starts afresh)');

  // a poweroff inside the guest ends the VM: stopped, with the reason
  await typeLine(d, id, 'poweroff -f');
  await json.waitFor(/"event":"stopped","state":"stopped","reason":"the guest powered off"/);
  assert.equal(tvisor('logs', '-f', 'ops').status, 0, 'following a stopped VM prints its output and ends');
  assert.equal(tvisor('rm', 'ops').status, 0);
  await json.waitFor(new RegExp(`"id":"${id}","name":"ops","event":"deleted"`));

  const mine = json.out().trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.id === id);
  assert.deepEqual(mine.map((e) => e.event + (e.reason ? `: ${e.reason}` : '')), [
    'created', 'started', 'rebooted: the guest rebooted', 'stopped: restart requested', 'started',
    'stopped: the guest powered off', 'deleted',
  ]);
  await human.waitFor(/ops \(\w+\)\s+deleted/);
  assert.match(human.out(), new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  ops \\(${id}\\)  stopped: the guest powered off$`, 'm'));
  for (const c of [json, human]) {
    c.child.kill('SIGINT');
    assert.equal(await c.exited, 0, 'Ctrl-C ends the event stream with status 0');
  }
});

test('logs, restart and events: usage mistakes exit 2, unknown VMs 1', () => {
  for (const args of [['logs'], ['logs', 'a', 'b'], ['logs', '--tail', '-3', 'a'], ['restart'], ['events', 'extra'], ['events', '--follow']]) {
    const bad = tvisor(...args);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /^tvisor: .*\nRun 'tvisor \w+ --help' for usage/);
  }
  for (const args of [['logs', 'nosuch'], ['restart', 'nosuch']]) {
    const r = tvisor(...args);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^tvisor: no VM named or with id 'nosuch'/);
  }
  for (const c of ['logs', 'restart', 'events']) {
    const h = tvisor(c, '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, new RegExp(`^Usage: tvisor ${c}`));
  }
});

test('the logs, restart and events endpoints answer as the OpenAPI document says', async () => {
  const vm = (await api(d, 'POST', '/v1/vms', { name: 'doc', vcpus: 1, memory_mib: 64, kernel: guest.kernel, initrd: guest.initrd })).json;
  const events = await fetch(`${d.url}/v1/events`);
  assert.equal(events.status, 200);
  assert.equal(events.headers.get('content-type'), 'application/x-ndjson');
  const reader = events.body!.getReader();
  try {
    assert.deepEqual(await api(d, 'GET', `/v1/vms/${vm.id}/logs?tail=5`), { status: 200, json: '' });
    assert.equal((await api(d, 'GET', `/v1/vms/${vm.id}/logs?tail=five`)).status, 400);
    assert.equal((await api(d, 'GET', `/v1/vms/${vm.id}/logs?since=1`)).status, 400);
    assert.equal((await api(d, 'GET', '/v1/vms/ffffffff/logs')).status, 404);
    assert.equal((await api(d, 'POST', '/v1/vms/ffffffff/restart')).status, 404);
    const restarted = await api(d, 'POST', `/v1/vms/${vm.id}/restart`);
    assert.equal(restarted.status, 200);
    assert.equal(restarted.json.state, 'running', 'a created VM is started');
    assert.equal((await api(d, 'POST', `/v1/vms/${vm.id}/restart`)).json.state, 'running', 'a running one stopped and started');
    assert.equal((await api(d, 'POST', `/v1/vms/${vm.id}/stop`)).status, 200);
    assert.equal((await api(d, 'DELETE', `/v1/vms/${vm.id}`)).status, 204);
    let text = '';
    while (!/"event":"deleted"/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the event stream ended:\n${text}`);
      text += new TextDecoder().decode(value);
    }
    const doc = openApiDocument();
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    for (const e of lines) assert.equal(validateSchema(doc, { $ref: '#/components/schemas/VmEvent' }, e), null, JSON.stringify(e));
    assert.deepEqual(lines.map((e) => `${e.event}${e.reason ? `: ${e.reason}` : ''}`), [
      'started', 'stopped: restart requested', 'started', 'stopped: stop requested', 'deleted',
    ]);
  } finally {
    await reader.cancel();
  }
});
