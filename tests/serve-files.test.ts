// `tvisor serve` and the files VMs use, end to end with a real daemon (no Linux boots: the kernels here are a
// tiny Image that only waits, and crafted ones): a FIFO kernel is refused at once while GET answers, a 1.5 GiB
// sparse ELF kernel is vetted from its headers, missing files are 400 naming the field, symlinks and hard links
// cannot lead out of --allow-dir (at create, at start after a swap, and after a restart with a narrower
// --allow-dir), and no two VMs (nor another process) write one image. Firmware in flash: its files as a VM's files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, stopDaemon, api, waitFor, type Daemon } from './lib/daemon.js';
import { flashTestImage, idleKernel, tinyElf } from '../src/core/machine/test-images.js';
import { cliPath } from './lib/toolchain.js';
import { diskLockPath } from '../src/host/node/block-file.js';

let dir: string;
let allowed: string;
let outside: string;

/** An ELF64 RISC-V kernel header with one PT_LOAD of `filesz` bytes at file offset 0x1000, at RAM + 2 MiB. */
const elfHeader = (filesz: bigint): Buffer => Buffer.from(tinyElf({ addr: 0x8020_0000n, filesz }));

before(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'tvisor-serve-files-'));
  allowed = join(dir, 'allowed');
  outside = join(dir, 'outside');
  fs.mkdirSync(allowed);
  fs.mkdirSync(outside);
  fs.writeFileSync(join(allowed, 'idle.Image'), idleKernel());
  fs.writeFileSync(join(outside, 'secret.img'), Buffer.alloc(64 * 1024, 7));
  fs.writeFileSync(join(allowed, 'shared.img'), Buffer.alloc(64 * 1024));
  fs.writeFileSync(join(allowed, 'other.img'), Buffer.alloc(64 * 1024));
  assert.equal(spawnSync('mkfifo', [join(allowed, 'kernel.fifo')]).status, 0);
  fs.writeFileSync(join(allowed, 'huge.elf'), elfHeader(1536n << 20n));
  fs.truncateSync(join(allowed, 'huge.elf'), 0x1000 + 1536 * 2 ** 20); // sparse: 1.5 GiB that take no space
  fs.symlinkSync(outside, join(allowed, 'escape')); // a directory inside that leads out
  fs.linkSync(join(outside, 'secret.img'), join(allowed, 'hard.img'));
  fs.symlinkSync(join(outside, 'secret.img'), join(allowed, 'link.img'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const spec = (name: string, more: Record<string, unknown> = {}) => ({ name, vcpus: 1, memory_mib: 32, kernel: join(allowed, 'idle.Image'), ...more });

async function create(d: Daemon, body: unknown): Promise<{ status: number; json: any }> {
  return api(d, 'POST', '/v1/vms', body);
}

/** Asserts a refused create: its status, and that the message names the field and matches `why`. */
async function refused(d: Daemon, body: unknown, status: number, field: string, why: RegExp): Promise<void> {
  const r = await create(d, body);
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.ok(r.json.error.message.startsWith(`${field} `), r.json.error.message);
  assert.match(r.json.error.message, why);
}

test('serve: files are checked by type, confined to --allow-dir, and never written by two VMs', { timeout: 300_000 }, async () => {
  const state = join(dir, 'state');
  let d = await startDaemon(state, ['--allow-dir', allowed]);
  try {
    // a FIFO kernel: refused at once by type; a GET sent with it is answered too
    const t0 = performance.now();
    const [fifo, list] = await Promise.all([create(d, spec('fifo', { kernel: join(allowed, 'kernel.fifo') })), api(d, 'GET', '/v1/vms')]);
    const fifoMs = performance.now() - t0;
    assert.equal(fifo.status, 400, JSON.stringify(fifo.json));
    assert.match(fifo.json.error.message, /^kernel ".*kernel\.fifo": is a FIFO \(named pipe\), not a regular file/);
    assert.equal(list.status, 200);
    assert.ok(fifoMs < 5000, `${fifoMs} ms`);
    await refused(d, spec('fifo-initrd', { initrd: join(allowed, 'kernel.fifo') }), 400, 'initrd', /is a FIFO/);

    // a 1.5 GiB sparse ELF kernel is vetted from its headers: create answers at once, and so does a GET meanwhile
    const t1 = performance.now();
    const [huge, get] = await Promise.all([create(d, spec('huge', { kernel: join(allowed, 'huge.elf'), memory_mib: 64 })), api(d, 'GET', '/v1/vms')]);
    const hugeMs = performance.now() - t1;
    assert.equal(huge.status, 201, JSON.stringify(huge.json));
    assert.equal(get.status, 200);
    process.stderr.write(`# create with a 1.5 GiB sparse ELF kernel: ${hugeMs.toFixed(0)} ms\n`);
    assert.ok(hugeMs < 5000, `${hugeMs} ms`);
    // starting it fails in its VM thread, from the layout (it does not fit), not after reading 1.5 GiB
    assert.equal((await api(d, 'POST', `/v1/vms/${huge.json.id}/start`)).status, 200);
    const hugeEnd = await waitFor(d, huge.json.id, (v) => v.state === 'crashed', 'the huge kernel does not fit', 60_000);
    assert.match(hugeEnd.reason, /do not fit in 64 MiB/);

    // missing files: 400 naming the field and the path
    await refused(d, spec('m1', { kernel: join(allowed, 'nope') }), 400, 'kernel', /nope": no such file/);
    await refused(d, spec('m2', { initrd: join(allowed, 'nope.cpio') }), 400, 'initrd', /nope\.cpio": no such file/);
    await refused(d, spec('m3', { firmware: join(allowed, 'nope.bin') }), 400, 'firmware', /no such file/);
    await refused(d, spec('m4', { disks: [{ path: join(allowed, 'nope.img') }] }), 400, 'disks[0].path', /no such file/);
    await refused(d, spec('m5', { disks: [{ path: join(allowed, 'other.img'), overlay: join(allowed, 'nodir', 'x.ovl') }] }), 400, 'disks[0].overlay', /its directory .* does not exist/);

    // ways out of --allow-dir: a symlinked directory (also for an overlay to create), a symlink, a hard link
    await refused(d, spec('e1', { disks: [{ path: join(allowed, 'escape', 'secret.img') }] }), 403, 'disks[0].path', /outside the allowed directories/);
    await refused(d, spec('e2', { disks: [{ path: join(allowed, 'other.img'), overlay: join(allowed, 'escape', 'new.ovl') }] }), 403, 'disks[0].overlay', /outside the allowed directories/);
    await refused(d, spec('e3', { disks: [{ path: join(allowed, 'link.img') }] }), 400, 'disks[0].path', /is a symbolic link/);
    await refused(d, spec('e4', { disks: [{ path: join(allowed, 'hard.img') }] }), 400, 'disks[0].path', /hard links.*copy it/);
    await refused(d, spec('e5', { kernel: join(allowed, 'escape', 'secret.img') }), 403, 'kernel', /outside the allowed directories/);
    assert.deepEqual(fs.readdirSync(outside), ['secret.img'], 'nothing was created outside');

    // a disk swapped for a symlink after create: the start is refused where the disk is opened
    fs.writeFileSync(join(allowed, 'swap.img'), Buffer.alloc(64 * 1024));
    const swap = await create(d, spec('swap', { disks: [{ path: join(allowed, 'swap.img') }, { path: join(allowed, 'other.img'), overlay: join(allowed, 'swap.ovl') }] }));
    assert.equal(swap.status, 201, JSON.stringify(swap.json));
    fs.rmSync(join(allowed, 'swap.img'));
    fs.symlinkSync(join(outside, 'secret.img'), join(allowed, 'swap.img'));
    assert.equal((await api(d, 'POST', `/v1/vms/${swap.json.id}/start`)).status, 200);
    const swapEnd = await waitFor(d, swap.json.id, (v) => v.state === 'crashed', 'the swapped disk stops the start', 60_000);
    assert.match(swapEnd.reason, /^cannot start: disk .*swap\.img: is a symbolic link/);
    assert.ok(fs.readFileSync(join(outside, 'secret.img')).every((b) => b === 7), 'the file outside is untouched');
    assert.ok(!fs.existsSync(join(allowed, 'swap.ovl')) || fs.statSync(join(allowed, 'swap.ovl')).isFile());

    // an initrd swapped for a FIFO after create: the VM thread refuses it by type instead of waiting on it
    fs.writeFileSync(join(allowed, 'init.cpio'), Buffer.alloc(512));
    const pipe = await create(d, spec('pipe', { initrd: join(allowed, 'init.cpio') }));
    assert.equal(pipe.status, 201, JSON.stringify(pipe.json));
    fs.rmSync(join(allowed, 'init.cpio'));
    assert.equal(spawnSync('mkfifo', [join(allowed, 'init.cpio')]).status, 0);
    assert.equal((await api(d, 'POST', `/v1/vms/${pipe.json.id}/start`)).status, 200);
    const pipeEnd = await waitFor(d, pipe.json.id, (v) => v.state === 'crashed', 'the FIFO initrd stops the start', 60_000);
    assert.match(pipeEnd.reason, /^cannot start: initrd .*init\.cpio: is a FIFO/);

    // two VMs with one writable disk: the second start is refused, naming the first
    const a = (await create(d, spec('a', { disks: [{ path: join(allowed, 'shared.img') }] }))).json;
    const b = (await create(d, spec('b', { disks: [{ path: join(allowed, 'shared.img') }] }))).json;
    const c = (await create(d, spec('c', { disks: [{ path: join(allowed, 'shared.img'), overlay: join(allowed, 'c.ovl') }] }))).json;
    const e = (await create(d, spec('e', { disks: [{ path: join(allowed, 'other.img') }] }))).json;
    assert.equal((await api(d, 'POST', `/v1/vms/${a.id}/start`)).status, 200);
    await waitFor(d, a.id, (v) => v.stats.instructions > 0, 'VM a runs', 60_000);
    for (const [vm, field] of [[b, 'disks[0].path'], [c, 'disks[0].path']] as const) {
      const r = await api(d, 'POST', `/v1/vms/${vm.id}/start`);
      assert.equal(r.status, 409, JSON.stringify(r.json));
      assert.match(r.json.error.message, new RegExp(`^${field.replace(/[[\]]/g, '\\$&')} ".*shared\\.img" is in use by VM ${a.id} \\(a\\)`));
      assert.equal((await api(d, 'GET', `/v1/vms/${vm.id}`)).json.state, 'created', 'the refused VM did not start');
    }
    // the lock file names its holder; stopping another VM releases nothing; another process is refused
    const lock = diskLockPath(join(allowed, 'shared.img'));
    assert.match(fs.readFileSync(lock, 'utf8'), new RegExp(`^${d.child.pid}\\nstart=\\d+\\nnonce=[0-9a-f]+\\nfile=.*shared\\.img\\nholder=VM ${a.id} \\(a\\)\\n$`));
    assert.equal((await api(d, 'POST', `/v1/vms/${e.id}/start`)).status, 200);
    await waitFor(d, e.id, (v) => v.stats.instructions > 0, 'VM e runs', 60_000);
    assert.equal((await api(d, 'POST', `/v1/vms/${e.id}/stop`)).status, 200);
    const mod = new URL('../src/host/node/block-file.js', import.meta.url).href;
    const other = spawnSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(mod)}).then(({ openDiskImage }) => openDiskImage({ path: ${JSON.stringify(join(allowed, 'shared.img'))} }))`], { encoding: 'utf8' });
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, new RegExp(`in use by another tvisor process \\(pid ${d.child.pid}, VM ${a.id} \\(a\\)\\)`));
    assert.ok(fs.existsSync(lock), 'still locked after another VM stopped');
    // once a has stopped (and its thread closed the disk), b may have it
    assert.equal((await api(d, 'POST', `/v1/vms/${a.id}/stop`)).status, 200);
    const deadline = Date.now() + 30_000;
    let started;
    while ((started = await api(d, 'POST', `/v1/vms/${b.id}/start`)).status === 409 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(started.status, 200, JSON.stringify(started.json));
    await waitFor(d, b.id, (v) => v.stats.instructions > 0, 'VM b runs on the disk a let go of', 60_000);
    assert.equal((await api(d, 'GET', `/v1/vms/${b.id}`)).json.state, 'running');
    assert.match(fs.readFileSync(lock, 'utf8'), new RegExp(`holder=VM ${b.id} \\(b\\)`));

    // a restart with a narrower --allow-dir: the running VM b is not started again, and says why
    await stopDaemon(d);
    const narrow = join(allowed, 'narrow');
    fs.mkdirSync(narrow);
    d = await startDaemon(state, ['--allow-dir', narrow]);
    const back = await waitFor(d, b.id, (v) => v.state === 'crashed', 'b is refused after the restart', 60_000);
    assert.match(back.reason, /^cannot start: (disk .*shared\.img|kernel .*idle\.Image): it is not under the allowed directories \(.*narrow\)/);
    const lines = d.log().split('\n').filter((l) => l.includes(b.id) && !/^tvisor: [A-Z]+ \/\S* \d{3} /.test(l)); // not the request log
    assert.equal(lines.length, 1, d.log());
  } finally {
    await stopDaemon(d);
  }
});

test('serve: firmware in flash (tvisor create --flash --flash-vars): run in place, bank 1 written back to its file; bad flash files refused; such a VM is not snapshotted', { timeout: 300_000 }, async () => {
  const state = join(dir, 'state-flash');
  const d = await startDaemon(state, ['--allow-dir', allowed]);
  try {
    fs.writeFileSync(join(allowed, 'flash.fd'), flashTestImage());
    fs.writeFileSync(join(allowed, 'spin.fd'), Buffer.from(Uint32Array.of(0x0000006f).buffer)); // j .
    const vars = join(allowed, 'vars.fd');
    fs.writeFileSync(vars, Buffer.alloc(64 * 1024, 0xff));
    // the CLI: no kernel with --flash (the firmware there boots), and no default guest fetched for it
    const created = spawnSync(process.execPath, [
      cliPath, 'create', 'uefi', '--api', d.url, '--firmware', 'none', '--flash', join(allowed, 'flash.fd'), '--flash-vars', vars, '--memory', '16M',
    ], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(created.status, 0, created.stderr);
    const id = created.stdout.trim();
    const config = (await api(d, 'GET', `/v1/vms/${id}`)).json.config;
    assert.deepEqual([config.kernel, config.flash], [undefined, { image: join(allowed, 'flash.fd'), vars }]);
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    // the program in flash programs bank 1 and powers off
    await waitFor(d, id, (v) => v.state === 'stopped' && v.stats.instructions > 0, 'the flash program ran and powered off', 60_000);
    const bytes = fs.readFileSync(vars);
    assert.deepEqual([...bytes.subarray(0x10, 0x14)], [0x78, 0x56, 0x34, 0x12], 'bank 1 as the guest programmed it, in the file');

    // a VM running from flash is not snapshotted (its banks are files of their own): a clear error, it runs on
    const spin = await api(d, 'POST', '/v1/vms', { name: 'spin', firmware: 'none', flash: { image: join(allowed, 'spin.fd') }, memory_mib: 16 });
    assert.equal(spin.status, 201, JSON.stringify(spin.json));
    assert.equal((await api(d, 'POST', `/v1/vms/${spin.json.id}/start`)).status, 200);
    await waitFor(d, spin.json.id, (v) => v.stats.instructions > 0, 'the spinning VM runs', 60_000);
    const snap = await api(d, 'POST', `/v1/vms/${spin.json.id}/snapshot`, { path: join(allowed, 'spin.snap') });
    assert.equal(snap.status, 500, JSON.stringify(snap.json));
    assert.match(snap.json.error.message, /a VM with firmware in flash cannot be snapshotted or migrated yet/);
    assert.equal((await api(d, 'GET', `/v1/vms/${spin.json.id}`)).json.state, 'running');

    // bad input: no kernel and no flash, flash with neither kernel nor firmware, a flash image too large, one outside --allow-dir, a missing variable store
    const bad = async (body: Record<string, unknown>, status: number, re: RegExp) => {
      const r = await api(d, 'POST', '/v1/vms', { name: 'bad', memory_mib: 16, ...body });
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.match(r.json.error.message, re);
    };
    fs.writeFileSync(join(allowed, 'big.fd'), '');
    fs.truncateSync(join(allowed, 'big.fd'), 33 * 2 ** 20);
    await bad({ firmware: 'none' }, 400, /kernel/);
    await bad({ flash: { image: join(allowed, 'flash.fd') } }, 400, /firmware is required with flash and no kernel/);
    await bad({ firmware: 'none', flash: { image: join(allowed, 'big.fd') } }, 400, /flash\.image .*big\.fd.*34603008 bytes do not fit a flash bank of 33554432 bytes/);
    await bad({ firmware: 'none', flash: { image: join(outside, 'secret.img') } }, 403, /flash\.image/);
    await bad({ firmware: 'none', flash: { image: join(allowed, 'flash.fd'), vars: join(allowed, 'nope.fd') } }, 400, /flash\.vars .*nope\.fd/);
    await bad({ firmware: 'none', flash: { vars } }, 400, /flash\.image/);
  } finally {
    await stopDaemon(d);
  }
});
