// tvisor run's fast start of the default guest (issue 15), in an image cache of its own (the guest's files
// linked from the real one): the first run boots and saves the guest where it waits for the host's handshake;
// the next runs resume it (no boot: the kernel log shows the VM generation ID's reseed) with the terminal's
// size, the host's time of day, and random numbers of their own; a guest reboot is answered again;
// --cold-boot boots; a damaged saved start is replaced by a new one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cliPath } from './lib/toolchain.js';
import { ensureDefaultGuest } from '../src/images/index.js';

let cache: string;
const children = new Set<ChildProcess>();

before(async () => {
  const guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  cache = mkdtempSync(join(tmpdir(), 'tvisor-fast-'));
  mkdirSync(join(cache, 'guests'));
  symlinkSync(guest.dir, join(cache, 'guests', basename(guest.dir)));
  const guests = join(guest.dir, '..');
  for (const f of readdirSync(guests)) if (f.startsWith('current-')) cpSync(join(guests, f), join(cache, 'guests', f));
});
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(cache, { recursive: true, force: true });
});

/** `tvisor run` on this cache; what is written is typed (tvisor holds it until the guest is ready for it). */
function start(args: string[]) {
  const child = spawn(process.execPath, [cliPath, 'run', '--memory', '128M', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TVISOR_CACHE: cache },
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const exited = new Promise<{ out: string; err: string; code: number | null }>((r) => child.on('exit', (code) => {
    clearTimeout(timer);
    children.delete(child);
    r({ out, err, code });
  }));
  return {
    write: (text: string) => child.stdin!.write(text),
    exited,
    async waitFor(re: RegExp): Promise<void> {
      while (!re.test(out)) {
        if (child.exitCode !== null) throw new Error(`no ${re} in:\n${out.slice(-2000)}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** `tvisor run` with `input` typed at once; resolves when it exits. */
function run(args: string[], input: string) {
  const s = start(args);
  s.write(input);
  return s.exited;
}

const PROBE = 'echo RAND $(head -c 8 /dev/urandom | od -An -tx1 | tr -d " "); echo NOW $(date +%s); echo SIZE $(stty size); ' +
  'echo FORKS $(dmesg | grep -c "virtual machine fork"); poweroff\n';

function probe(r: { out: string; err: string; code: number | null }) {
  assert.equal(r.code, 0, `${r.err}\n${r.out.slice(-2000)}`);
  const get = (k: string) => new RegExp(`(?:^|\\n)${k} ([^\\r\\n]*)`).exec(r.out)?.[1] ?? assert.fail(`no ${k} in ${r.out.slice(-1500)}`);
  assert.match(r.out, /tvisor guest: Linux/);
  assert.doesNotMatch(r.out, /\x1b\]tvisor;ready/, 'the handshake marker never reaches the terminal');
  return { rand: get('RAND'), now: Number(get('NOW')), size: get('SIZE'), forks: Number(get('FORKS')) };
}

test('the default guest is saved at its first boot and resumed by the next runs, each with its own clock and random numbers', async () => {
  const first = await run([], PROBE);
  const a = probe(first);
  assert.match(first.err, /tvisor: saved the booted guest \(\d+ MiB, in .*snapshots\/run-[0-9a-f]+\.snap\)/);
  assert.equal(a.forks, 0, 'the first run booted');
  const resumed = [];
  for (let i = 0; i < 2; i++) {
    // seconds after the save: a guest clock that went on from the saved moment would read too early
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = Date.now() / 1000;
    const r = await run([], PROBE);
    const t1 = Date.now() / 1000;
    assert.doesNotMatch(r.err, /saved the booted guest/);
    const b = probe(r);
    assert.equal(b.forks, 1, 'resumed: the VM generation ID changed once, and the kernel reseeded');
    assert.ok(b.now >= Math.floor(t0) && b.now <= t1 + 1, `the guest's clock reads the host's time: ${b.now} in [${t0}, ${t1}]`);
    assert.equal(b.size, '24 80', 'no terminal: 24x80');
    resumed.push(b);
  }
  const rands = [a.rand, ...resumed.map((b) => b.rand)];
  assert.equal(new Set(rands).size, 3, `random numbers of their own: ${rands.join(' ')}`);

  const cold = probe(await run(['--cold-boot'], PROBE));
  assert.equal(cold.forks, 0, '--cold-boot boots');
});

test('a guest reboot in a resumed guest is answered again; a damaged saved start is replaced', async () => {
  await run([], 'true; poweroff\n'); // a saved start exists
  const s = start([]);
  s.write('echo BEFORE-$((1+1)); reboot\n');
  await s.waitFor(/BEFORE-2/);
  await s.waitFor(/tvisor guest: Linux[\s\S]*tvisor guest: Linux/); // the guest booted again and got its answer
  s.write(PROBE);
  assert.equal(probe(await s.exited).forks, 0, 'after the reboot the kernel booted');

  const dir = join(cache, 'snapshots');
  const [file] = readdirSync(dir).filter((f) => f.endsWith('.snap'));
  const bytes = readFileSync(join(dir, file));
  bytes[bytes.length - 5000] ^= 0x40;
  writeFileSync(join(dir, file), bytes);
  const again = await run([], PROBE);
  assert.match(again.err, /the saved start .* cannot be used \(not a usable snapshot: its checksum does not match.*\); booting, and saving a new one/);
  assert.match(again.err, /saved the booted guest/);
  assert.equal(probe(again).forks, 0);
  assert.equal(probe(await run([], PROBE)).forks, 1, 'the new one is used');
});
