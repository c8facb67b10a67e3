// `tvisor image rm` and `tvisor image resize` for real: rm on a copy of the cached guest, refused while a VM
// of a real daemon boots from it; resize of an ext4 disk refused while a running Debian guest has it open,
// then grown, and the guest's df shows the larger filesystem after its next boot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cliPath, e2fsTool } from './lib/toolchain.js';
import { api, collectConsole, startDaemon, stopDaemon, waitFor, typeLine, type Daemon } from './lib/daemon.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

let guest: GuestImage;
let dir: string;
let d: Daemon;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-imgops-'));
  d = await startDaemon(join(dir, 'state'), ['--allow-dir', guest.dir, '--allow-dir', dir]);
});
after(async () => {
  if (d) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

function tvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('image rm: packages and guests leave the cache; a guest a VM of the daemon boots from is refused', () => {
  // a cache of our own: a copy of the current guest (and its pointer) and a package
  const cache = join(dir, 'cache');
  const name = basename(guest.dir);
  cpSync(guest.dir, join(cache, 'guests', name), { recursive: true });
  writeFileSync(join(cache, 'guests', 'current-trixie.json'), JSON.stringify({ dir: name }));
  mkdirSync(join(cache, 'debs'));
  writeFileSync(join(cache, 'debs', 'hello_1.0_riscv64.deb'), 'not really a package');
  const ls = tvisor('image', 'ls', '--cache', cache);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`\\* ${name.replace(/[+.]/g, '\\$&')}`));

  const copy = join(cache, 'guests', name);
  const created = tvisor('create', 'user', '--kernel', join(copy, guest.manifest.files.kernel), '--initrd', join(copy, guest.manifest.files.initrd), '--api', d.url);
  assert.equal(created.status, 0, created.stderr);
  const refused = tvisor('image', 'rm', name, '--cache', cache, '--api', d.url);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^tvisor: guest .* is used by the daemon's VM user \(\w+, created\), which could not start \(or reboot\) without it; delete it first \('tvisor rm'\), or give --force\n$/);
  assert.ok(existsSync(copy), 'nothing was removed');

  const deb = tvisor('image', 'rm', 'hello_1.0_riscv64.deb', '--cache', cache, '--api', d.url);
  assert.equal(deb.status, 0, deb.stderr);
  assert.equal(deb.stdout, 'removed package hello_1.0_riscv64.deb\n');
  const unknown = tvisor('image', 'rm', 'nosuch', '--cache', cache);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no guest or package 'nosuch' in the cache .*; 'tvisor image ls' lists them/);
  for (const args of [['image', 'rm'], ['image', 'rm', 'x', '--all'], ['image', 'ls', '--all'], ['image', 'pull', '--api', 'x:1']]) {
    const bad = tvisor(...args, '--cache', cache);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
  }

  assert.equal(tvisor('rm', 'user', '--api', d.url).status, 0);
  const removed = tvisor('image', 'rm', name, '--cache', cache, '--api', d.url);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`^removed guest ${name.replace(/[+.]/g, '\\$&')}\nthe default guest is gone: the next 'tvisor run' \\(or 'tvisor image pull'\\) builds it again\n$`));
  assert.ok(!existsSync(copy) && !existsSync(join(cache, 'guests', 'current-trixie.json')), 'the guest and its pointer are gone');
  assert.match(tvisor('image', 'ls', '--cache', cache).stdout, /\(empty: run 'tvisor image pull'\)/);
});

/** Once the guest booting now shows its prompt (output after `from`), it mounts the disk and answers df's size in KiB. */
async function guestDf(id: string, con: Awaited<ReturnType<typeof collectConsole>>, from: number, marker: string): Promise<number> {
  const end = Date.now() + 240_000;
  while (!con.text().slice(from).includes('/ # ')) {
    if (Date.now() > end) throw new Error(`no prompt:\n${con.text().slice(from)}\n${d.log()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await typeLine(d, id, `mkdir -p /m && mount /dev/vda /m && df -k /m; umount /m; echo ${marker}`);
  await con.waitFor(new RegExp(`^${marker}\\r?$`, 'm'), 120_000);
  const size = /^\/dev\/vda\s+(\d+)\s/m.exec(con.text().slice(from));
  assert.ok(size, `df printed /dev/vda:\n${con.text().slice(from)}`);
  return Number(size[1]);
}

test('image resize: refused while a running VM has the disk, then the ext4 filesystem grows and the guest sees it', async (t) => {
  const mke2fs = e2fsTool('mke2fs');
  assert.ok(mke2fs, 'e2fsprogs is installed');
  const disk = join(dir, 'data.img');
  const made = spawnSync(mke2fs, ['-q', '-t', 'ext4', '-F', disk, '64M'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);

  const created = tvisor('create', 'disk', '--memory', '128M', '--disk', disk, '--api', d.url);
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  const con = await collectConsole(d, id);
  try {
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    const before = await guestDf(id, con, 0, 'df-done-1');
    assert.ok(before > 50_000 && before < 66_000, `a 64M ext4 filesystem: ${before} KiB`);

    const busy = tvisor('image', 'resize', disk, '128M');
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /in use by another tvisor process \(pid \d+, VM \w+ \(disk\)\); stop the VM first/);
    assert.equal(statSync(disk).size, 64 * 2 ** 20, 'the file is unchanged');

    assert.equal((await api(d, 'POST', `/v1/vms/${id}/stop`)).status, 200);
    await waitFor(d, id, (v) => v.state === 'stopped', 'stopped');
    // the VM thread lets go of the disk's lock once it has closed it: until then the resize is (rightly) refused
    let grown = tvisor('image', 'resize', disk, '+64M');
    for (const end = Date.now() + 60_000; grown.status === 1 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 500));
      grown = tvisor('image', 'resize', disk, '+64M');
    }
    assert.equal(grown.status, 0, grown.stderr);
    assert.equal(grown.stdout, `${disk}: 64 MiB -> 128 MiB; its ext filesystem was grown to fill it (the guest sees the space at its next boot)\n`);
    assert.equal(statSync(disk).size, 128 * 2 ** 20);

    const shrink = tvisor('image', 'resize', disk, '64M');
    assert.equal(shrink.status, 2);
    assert.match(shrink.stderr, /shrinking is not supported/);

    const from = con.text().length;
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    const after = await guestDf(id, con, from, 'df-done-2');
    t.diagnostic(`df -k in the guest: ${before} KiB before, ${after} KiB after`);
    assert.ok(after > before + 55_000, `df shows the larger filesystem: ${before} KiB before, ${after} KiB after`);
    await api(d, 'POST', `/v1/vms/${id}/stop`);
  } finally {
    con.close();
  }
});
