// The default guest's console as a user meets it, through the real `tvisor run` (under a pseudo-terminal
// where it matters) and the daemon: poweroff and reboot typed in the guest, input piped in before the prompt,
// the host terminal's size and TERM in the guest, Ctrl-A x, no cursor queries on a non-terminal, and a guest
// kernel panic (64 MiB is too little for Debian's kernel) ending the VM with the panic shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './lib/toolchain.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';
import { startDaemon, stopDaemon, api, waitFor, collectConsole } from './lib/daemon.js';

const BOOT_MS = 300_000;
/** util-linux script(1) gives the command a pseudo-terminal; -e returns the command's status. */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

let guest: GuestImage;
let dir: string;
before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-guest-console-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A running command whose output is collected; waitFor polls for a pattern (no fixed sleeps). */
interface Session {
  child: ChildProcess;
  out(): string;
  send(text: string): void;
  waitFor(re: RegExp, what: string, from?: number): Promise<number>;
  done: Promise<number | null>;
}

function session(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Session {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d) => (out += d.toString('latin1')));
  child.stderr!.on('data', (d) => (out += d.toString('latin1')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 2 * BOOT_MS);
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve(code);
  }));
  let ended = false;
  void done.then(() => (ended = true));
  return {
    child,
    out: () => out,
    send: (text) => child.stdin!.write(text),
    /** Resolves with the index just past the first match at or after `from`. */
    async waitFor(re, what, from = 0) {
      const end = Date.now() + BOOT_MS;
      for (;;) {
        const m = re.exec(out.slice(from));
        if (m) return from + m.index + m[0].length;
        if (ended || Date.now() > end) throw new Error(`${what}: no ${re} ${ended ? 'before the command ended' : `within ${BOOT_MS} ms`}; output:\n${out.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    done,
  };
}

/** `tvisor run` on a pseudo-terminal of `rows` x `cols` with TERM set, as a user at a terminal starts it. */
function runOnTerminal(rows: number, cols: number, term: string): Session {
  const command = `stty rows ${rows} cols ${cols} && exec '${process.execPath}' '${cliPath}' run`;
  return session('script', ['-qfec', command, '/dev/null'], { ...process.env, TERM: term });
}

const PROMPT = /\/ # /;

test('at a terminal: stty size and TERM are the host\'s, reboot restarts the guest, Ctrl-A x quits', { skip: !hasScript && 'script(1) from util-linux is not installed' }, async () => {
  const s = runOnTerminal(37, 101, 'xterm-256color');
  try {
    let at = await s.waitFor(PROMPT, 'the first boot reaches the shell');
    s.send('echo "size=$(stty size) term=$TERM"\r');
    at = await s.waitFor(/size=37 101 term=xterm-256color/, 'the guest sees the terminal\'s size and TERM', at);
    s.send('reboot\r');
    at = await s.waitFor(/tvisor guest: Linux/, 'the guest boots again after reboot', at);
    at = await s.waitFor(PROMPT, 'the second boot reaches the shell', at);
    s.send('\x01x'); // Ctrl-A x, lower case as QEMU takes it
    assert.equal(await s.done, 0, s.out().slice(-3000));
    assert.match(s.out().slice(at), /tvisor: stopped \(Ctrl-A X\)/);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('at a terminal: poweroff typed in the guest ends tvisor run with status 0', { skip: !hasScript && 'script(1) from util-linux is not installed' }, async () => {
  const s = runOnTerminal(24, 80, 'vt220');
  try {
    const at = await s.waitFor(PROMPT, 'the guest reaches the shell');
    s.send('poweroff\r');
    assert.equal(await s.done, 0, s.out().slice(-3000));
    assert.match(s.out().slice(at), /Requesting system poweroff/);
    assert.doesNotMatch(s.out(), /stopped \(Ctrl-A X\)/);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('input piped in before the prompt runs; a non-terminal sees no cursor position queries', async () => {
  const s = session(process.execPath, [cliPath, 'run']);
  try {
    // sent at once, long before the guest's serial driver starts: it waits on the line (RTS off)
    s.send('echo "piped-$((6 * 7)) term=$TERM"\n');
    const at = await s.waitFor(/piped-42 term=dumb/, 'the command piped in before boot ran');
    // a prompt with no input pending: busybox asks the terminal where the cursor is (ESC [ 6 n)
    await s.waitFor(PROMPT, 'the prompt after the command', at);
    s.send('exit\n');
    assert.equal(await s.done, 0, s.out().slice(-3000));
    assert.ok(!s.out().includes('\x1b[6n'), 'no literal cursor position query in the output');
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('a guest kernel panic ends tvisor run with the panic shown (64 MiB, before the kernel\'s console starts)', () => {
  const r = spawnSync(process.execPath, [cliPath, 'run', '--memory', '64M'], { encoding: 'utf8', input: '', timeout: BOOT_MS });
  assert.equal(r.status, 1, `${r.stdout.slice(-3000)}\n${r.stderr}`);
  assert.match(r.stdout, /Kernel panic - not syncing: memblocks_present: Failed to allocate/);
  assert.match(r.stderr, /^tvisor: the guest crashed: guest kernel panic: memblocks_present: Failed to allocate \d+ bytes/m);
});

test('a daemon VM whose kernel panics goes to crashed with the panic as its reason', async () => {
  const d = await startDaemon(join(dir, 'state'), ['--allow-dir', guest.dir]);
  try {
    const created = await api(d, 'POST', '/v1/vms', { name: 'small', vcpus: 1, memory_mib: 64, kernel: guest.kernel, initrd: guest.initrd });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const id = created.json.id as string;
    const con = await collectConsole(d, id);
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    const end = await waitFor(d, id, (v) => v.state !== 'running' && v.state !== 'created', 'the VM ends', BOOT_MS);
    assert.equal(end.state, 'crashed', JSON.stringify(end));
    assert.match(end.reason, /^guest kernel panic: memblocks_present: Failed to allocate/);
    await con.waitFor(/end Kernel panic - not syncing/, 30_000);
    con.close();
  } finally {
    await stopDaemon(d);
  }
});
