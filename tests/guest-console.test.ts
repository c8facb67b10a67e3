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

/**
 * A pseudo-terminal harness in Python (its pty and termios modules): runs argv[3:] on a new pty of argv[1]
 * rows x argv[2] columns as the session's controlling terminal, relays stdin and output, and on SIGUSR1
 * resizes the pty to 50 x 132, as a user resizing the window does (the kernel sends SIGWINCH). Exits with
 * the command's status.
 */
const PTY_HARNESS = `
import fcntl, os, select, signal, struct, subprocess, sys, termios
master, slave = os.openpty()
def size(rows, cols):
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
size(int(sys.argv[1]), int(sys.argv[2]))
child = subprocess.Popen(sys.argv[3:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
os.close(slave)
signal.signal(signal.SIGUSR1, lambda *_: size(50, 132))
inputs = [master, 0]
while True:
    try:
        ready = select.select(inputs, [], [])[0]
    except InterruptedError:
        continue
    if 0 in ready:
        data = os.read(0, 4096)
        if data: os.write(master, data)
        else: inputs.remove(0)
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b''
        if not data: break
        os.write(1, data)
sys.exit(child.wait())
`;
const hasPython = spawnSync('python3', ['-c', 'import pty, termios'], { encoding: 'utf8' }).status === 0;

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

test('--console virtio at a terminal: the guest follows a resize of the terminal (virtio-console size, config change)', { skip: !hasPython && 'python3 is not installed' }, async () => {
  const s = session('python3', ['-c', PTY_HARNESS, '30', '90', process.execPath, cliPath, 'run', '--console', 'virtio'], { ...process.env, TERM: 'xterm' });
  try {
    let at = await s.waitFor(PROMPT, 'the guest reaches the shell on hvc0');
    s.send('echo "size=$(stty size) tty=$(tty)"\r');
    at = await s.waitFor(/size=30 90 tty=\/dev\/hvc0/, 'the size at boot', at);
    at = await s.waitFor(PROMPT, 'the prompt', at);
    s.child.kill('SIGUSR1'); // the harness resizes the terminal to 50 x 132
    // the resize reaches the guest asynchronously: ask until it shows (each answer is a new line to match)
    for (let tries = 0; ; tries++) {
      s.send('echo "now=$(stty size)"\r');
      const next = await s.waitFor(/now=\d+ \d+/, 'the size after the resize', at);
      if (/now=50 132/.test(s.out().slice(at, next))) break;
      assert.ok(tries < 100, `the guest never saw the new size:\n${s.out().slice(-2000)}`);
      at = next;
      await new Promise((r) => setTimeout(r, 200));
    }
    s.send('poweroff\r');
    assert.equal(await s.done, 0, s.out().slice(-3000));
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

for (const consoleKind of ['serial', 'virtio']) {
  test(`a panic after the kernel's console started (${consoleKind} console) ends tvisor run too`, async () => {
    const s = session(process.execPath, [cliPath, 'run', '--console', consoleKind]);
    try {
      // at the prompt: input sent to a virtio console before its tty is open is lost (hvc drops it)
      await s.waitFor(PROMPT, 'the guest reaches the shell');
      // an oops is fatal with panic_on_oops; sysrq c dereferences NULL in the kernel
      s.send('echo 1 > /proc/sys/kernel/panic_on_oops; echo c > /proc/sysrq-trigger\n');
      assert.equal(await s.done, 1, s.out().slice(-3000));
      assert.match(s.out(), /---\[ end Kernel panic - not syncing: sysrq triggered crash \]---/);
      assert.match(s.out(), /^tvisor: the guest crashed: guest kernel panic: sysrq triggered crash$/m);
    } finally {
      s.child.kill('SIGKILL');
    }
  });
}

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
