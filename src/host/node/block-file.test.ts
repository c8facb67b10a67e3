// Tests of the Node disk image backends on real temporary files: raw and read-only images, copy-on-write
// overlays (base untouched, reuse, crash ordering), lock files across processes, and the errors users meet.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { BlockIoError } from '../../core/virtio/blk/backend.js';
import { preciseLockText } from './pid-lock.js';
import fc from 'fast-check';
import { DiskError, diskLockPath, openDiskImage, releaseAbandonedLocks, type DiskSpec } from './block-file.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-block-file-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

function pattern(len: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed * 7 + (i >> 12)) & 0xff);
}

/** A new image file of `len` bytes filled with a pattern; returns its path. */
function image(len = 64 * 1024, seed = 1): string {
  const p = path.join(dir, `disk${n++}.img`);
  fs.writeFileSync(p, pattern(len, seed));
  return p;
}

const sha256 = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

function readAll(b: { size: number; read(o: number, d: Uint8Array): void }): Uint8Array {
  const out = new Uint8Array(b.size);
  b.read(0, out);
  return out;
}

test('raw image: writes, reads, write-zeroes and flush reach the file', () => {
  const p = image();
  const d = openDiskImage({ path: p });
  assert.equal(d.size, 64 * 1024);
  assert.equal(d.readOnly, false);
  const data = pattern(4096, 9);
  d.write(8192, data);
  const back = new Uint8Array(4096);
  d.read(8192, back);
  assert.deepEqual(back, data);
  d.writeZeroes(512, 3 * 1024);
  d.discard(0, 4096); // a no-op, but must not fail
  d.flush();
  d.close();
  const file = fs.readFileSync(p);
  assert.deepEqual(new Uint8Array(file.subarray(8192, 8192 + 4096)), data);
  assert.ok(file.subarray(512, 512 + 3 * 1024).every((b) => b === 0));
  assert.deepEqual(new Uint8Array(file.subarray(0, 512)), pattern(512));
  assert.throws(() => d.read(0, new Uint8Array(512)), BlockIoError, 'used after close');
});

test('raw image: flush calls fsync; accesses outside the disk are BlockIoError', () => {
  const d = openDiskImage({ path: image() });
  const fsync = mock.method(fs, 'fsyncSync');
  try {
    d.flush();
    assert.equal(fsync.mock.callCount(), 1);
  } finally {
    fsync.mock.restore();
  }
  assert.throws(() => d.read(64 * 1024 - 512, new Uint8Array(1024)), BlockIoError);
  assert.throws(() => d.write(-512, new Uint8Array(512)), BlockIoError);
  assert.throws(() => d.writeZeroes(60 * 1024, 8192), BlockIoError);
  d.close();
  d.close(); // idempotent
});

test('read-only image: reads work, writes are refused, the file is unchanged', () => {
  const p = image();
  fs.chmodSync(p, 0o444);
  const before = sha256(p);
  const d = openDiskImage({ path: p, readOnly: true });
  assert.equal(d.readOnly, true);
  assert.deepEqual(readAll(d), pattern(64 * 1024));
  assert.throws(() => d.write(0, new Uint8Array(512)), BlockIoError);
  assert.throws(() => d.writeZeroes(0, 512), BlockIoError);
  d.flush();
  d.close();
  assert.equal(sha256(p), before);
  if (process.getuid?.() !== 0) {
    assert.throws(() => openDiskImage({ path: p }), (e: Error) => e instanceof DiskError && /permission denied.*readonly/.test(e.message));
  }
});

test('bad images are refused with a DiskError that says what is wrong', () => {
  const cases: [DiskSpec, RegExp][] = [
    [{ path: path.join(dir, 'missing.img') }, /missing\.img: no such file/],
    [{ path: path.join(dir, 'missing.img'), readOnly: true }, /no such file/],
    [{ path: dir }, /is a directory/],
    [{ path: dir, readOnly: true }, /is a directory/],
    [{ path: image(0) }, /empty/],
    [{ path: image(1000) }, /size 1000 is not a multiple of 512 bytes/],
    [{ path: image(1000), readOnly: true }, /size 1000 is not a multiple of 512 bytes/],
    [{ path: image(), readOnly: true, overlay: path.join(dir, 'x.ovl') }, /readonly and overlay= exclude each other/],
    [{ path: path.join(dir, 'missing.img'), overlay: path.join(dir, 'y.ovl') }, /no such file/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => openDiskImage(spec), (e: Error) => e instanceof DiskError && message.test(e.message), JSON.stringify(spec));
  }
  assert.ok(!fs.existsSync(path.join(dir, 'y.ovl')), 'no overlay created for a missing base');
});

test('the same image cannot be opened writable twice in one process; read-only opens are always allowed', () => {
  const p = image();
  const a = openDiskImage({ path: p });
  assert.throws(() => openDiskImage({ path: p }), (e: Error) => e instanceof DiskError && /already open for writing in this process/.test(e.message));
  const link = path.join(dir, `link${n++}.img`);
  fs.symlinkSync(p, link);
  assert.throws(() => openDiskImage({ path: link }), DiskError, 'same file under another name');
  const ro = openDiskImage({ path: p, readOnly: true });
  ro.close();
  assert.ok(fs.existsSync(diskLockPath(p)), 'the lock file exists while open');
  a.close();
  assert.ok(!fs.existsSync(diskLockPath(p)), 'close removes the lock file');
  openDiskImage({ path: p }).close();
});

test('overlay: the base stays byte-identical; writes, partial blocks and zeroes read back; a second run sees them', () => {
  const base = image(256 * 1024, 3);
  const ovl = path.join(dir, `run${n++}.ovl`);
  const hash = sha256(base);
  const model = pattern(256 * 1024, 3);
  const d = openDiskImage({ path: base, overlay: ovl });
  assert.equal(d.size, 256 * 1024);
  assert.equal(d.readOnly, false);
  const writes: [number, Uint8Array][] = [
    [4096 + 512, pattern(512, 11)], // one sector inside a block: the rest of the block comes from the base
    [3 * 4096 - 1024, pattern(4096 + 2048, 12)], // straddles two block boundaries, partial at both ends
    [16 * 4096, pattern(3 * 4096, 13)], // whole blocks
    [16 * 4096 + 1024, pattern(1024, 14)], // rewrite inside a block the overlay already holds
    [256 * 1024 - 512, pattern(512, 15)], // last sector
  ];
  for (const [o, data] of writes) {
    d.write(o, data);
    model.set(data, o);
  }
  d.writeZeroes(40 * 1024 + 512, 9 * 1024);
  model.fill(0, 40 * 1024 + 512, 49 * 1024 + 512);
  assert.deepEqual(readAll(d), model);
  const odd = new Uint8Array(5000 - 5000 % 512); // a read spanning base and overlay blocks at odd places
  d.read(4096 - 512, odd);
  assert.deepEqual(odd, model.subarray(4096 - 512, 4096 - 512 + odd.length));
  d.close();
  assert.equal(sha256(base), hash, 'base unchanged');
  const again = openDiskImage({ path: base, overlay: ovl });
  assert.deepEqual(readAll(again), model, 'a second run sees the first run\'s writes');
  again.write(0, pattern(512, 16));
  model.set(pattern(512, 16), 0);
  again.close();
  assert.deepEqual(readAll(openDiskImage({ path: base, readOnly: true })), pattern(256 * 1024, 3));
  const third = openDiskImage({ path: base, overlay: ovl });
  assert.deepEqual(readAll(third), model);
  third.close();
  assert.equal(sha256(base), hash);
  assert.equal(fs.readFileSync(ovl).subarray(0, 8).toString(), 'TVOVL001');
});

test('overlay: a base of another size, a foreign file, the base itself, and a second writer are refused', () => {
  const base = image(64 * 1024);
  const ovl = path.join(dir, `o${n++}.ovl`);
  openDiskImage({ path: base, overlay: ovl }).close();
  const bigger = image(128 * 1024);
  assert.throws(() => openDiskImage({ path: bigger, overlay: ovl }), (e: Error) => e instanceof DiskError && /was made for a base image of 65536 bytes/.test(e.message));
  const foreign = image(8192);
  assert.throws(() => openDiskImage({ path: base, overlay: foreign }), (e: Error) => e instanceof DiskError && /not a tvisor overlay/.test(e.message));
  assert.throws(() => openDiskImage({ path: base, overlay: base }), (e: Error) => e instanceof DiskError && /base image itself/.test(e.message));
  const a = openDiskImage({ path: base, overlay: ovl });
  assert.throws(() => openDiskImage({ path: base, overlay: ovl }), (e: Error) => e instanceof DiskError && /already open for writing/.test(e.message));
  assert.throws(() => openDiskImage({ path: base }), (e: Error) => e instanceof DiskError && /base of an overlay/.test(e.message));
  a.close();
  const empty = path.join(dir, `empty${n++}.ovl`);
  fs.writeFileSync(empty, '');
  const e = openDiskImage({ path: base, overlay: empty }); // an empty file (e.g. from mktemp) becomes an overlay
  assert.deepEqual(readAll(e), pattern(64 * 1024));
  e.close();
});

test('overlay flush: data is made durable before the bitmap, and unflushed blocks never show after a crash', () => {
  const base = image(64 * 1024, 5);
  const ovl = path.join(dir, `crash${n++}.ovl`);
  const d = openDiskImage({ path: base, overlay: ovl });
  const flushed = pattern(4096, 21);
  d.write(8192, flushed);
  const order: string[] = [];
  const real = { fdatasyncSync: fs.fdatasyncSync, fsyncSync: fs.fsyncSync, writeSync: fs.writeSync };
  const fdatasync = mock.method(fs, 'fdatasyncSync', (fd: number) => { order.push('fdatasync'); real.fdatasyncSync(fd); });
  const fsync = mock.method(fs, 'fsyncSync', (fd: number) => { order.push('fsync'); real.fsyncSync(fd); });
  const write = mock.method(fs, 'writeSync', (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
    if (pos === 4096) order.push('bitmap');
    return real.writeSync(fd, buf, off, len, pos);
  });
  try {
    d.flush();
  } finally {
    fdatasync.mock.restore();
    fsync.mock.restore();
    write.mock.restore();
  }
  assert.deepEqual(order, ['fdatasync', 'bitmap', 'fsync']);
  // written but not flushed: the data is in the file, the bitmap bit is not
  d.write(16384, pattern(4096, 22));
  const crashed = path.join(dir, `crashed${n++}.ovl`);
  fs.copyFileSync(ovl, crashed); // the file as a host crash right now could leave it
  const after = openDiskImage({ path: base, overlay: crashed });
  const got = readAll(after);
  assert.deepEqual(got.subarray(8192, 12288), flushed, 'the flushed write survived');
  assert.deepEqual(got.subarray(16384, 20480), pattern(64 * 1024, 5).subarray(16384, 20480), 'the unflushed block reads from the base');
  after.close();
  d.close();
});

test('overlay on a disk whose size is not a whole number of blocks', () => {
  const size = 3 * 4096 + 512;
  const base = image(size, 8);
  const ovl = path.join(dir, `tail${n++}.ovl`);
  const model = pattern(size, 8);
  const d = openDiskImage({ path: base, overlay: ovl });
  d.write(3 * 4096, pattern(512, 30)); // the whole (short) last block
  model.set(pattern(512, 30), 3 * 4096);
  d.write(2 * 4096 + 512, pattern(1024, 31)); // inside block 2, and again across into the last one
  model.set(pattern(1024, 31), 2 * 4096 + 512);
  d.write(3 * 4096 - 512, pattern(1024, 32));
  model.set(pattern(1024, 32), 3 * 4096 - 512);
  assert.deepEqual(readAll(d), model);
  d.close();
  const again = openDiskImage({ path: base, overlay: ovl });
  assert.deepEqual(readAll(again), model);
  again.close();
});

// Model test: random writes, zeroes, flushes and reopenings of an overlay must read like a plain byte array,
// while the base file never changes.
test('model: an overlay reads like a byte array through random writes, zeroes and reopenings', () => {
  const SIZE = 40 * 1024 + 512;
  const base = image(SIZE, 4);
  const hash = sha256(base);
  const opArb = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), sector: fc.integer({ min: 0, max: SIZE / 512 - 1 }), count: fc.integer({ min: 1, max: 12 }), seed: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('zeroes' as const), sector: fc.integer({ min: 0, max: SIZE / 512 - 1 }), count: fc.integer({ min: 1, max: 20 }) }),
    fc.constant({ kind: 'flush' as const }),
    fc.constant({ kind: 'reopen' as const }),
  );
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 20 }), (ops) => {
      const ovl = path.join(dir, `model${n++}.ovl`);
      const model = pattern(SIZE, 4);
      let d = openDiskImage({ path: base, overlay: ovl });
      try {
        for (const op of ops) {
          if (op.kind === 'write' || op.kind === 'zeroes') {
            const o = op.sector * 512;
            const len = Math.min(op.count * 512, SIZE - o);
            if (op.kind === 'write') {
              const data = pattern(len, op.seed);
              d.write(o, data);
              model.set(data, o);
            } else {
              d.writeZeroes(o, len);
              model.fill(0, o, o + len);
            }
          } else if (op.kind === 'flush') {
            d.flush();
          } else {
            d.close();
            d = openDiskImage({ path: base, overlay: ovl });
          }
          assert.deepEqual(readAll(d), model);
        }
      } finally {
        d.close();
        fs.rmSync(ovl);
      }
      return sha256(base) === hash;
    }),
    { numRuns: 40 },
  );
});

test('on a normal exit without close, an overlay keeps its writes and the lock file is removed', () => {
  const base = image(64 * 1024, 6);
  const ovl = path.join(dir, `exit${n++}.ovl`);
  const mod = new URL('./block-file.js', import.meta.url).href;
  const code = `import(${JSON.stringify(mod)}).then((m) => { const d = m.openDiskImage({ path: process.env.B, overlay: process.env.O }); d.write(4096, new Uint8Array(4096).fill(7)); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, B: base, O: ovl }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!fs.existsSync(diskLockPath(ovl)), 'lock removed by the exit handler');
  const d = openDiskImage({ path: base, overlay: ovl });
  const got = readAll(d);
  assert.ok(got.subarray(4096, 8192).every((b) => b === 7), 'the bitmap was persisted at exit');
  assert.deepEqual(got.subarray(0, 4096), pattern(64 * 1024, 6).subarray(0, 4096));
  d.close();
});

/** Starts a child process that opens `img` writable through the compiled module and waits; resolves once open. */
async function lockingChild(img: string): Promise<{ pid: number; kill(): Promise<void> }> {
  const mod = new URL('./block-file.js', import.meta.url).href;
  const code = `import(${JSON.stringify(mod)}).then((m) => { m.openDiskImage({ path: process.env.TVISOR_TEST_IMG }); process.stdout.write('ready\\n'); setInterval(() => {}, 1000); }, (e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', code], { env: { ...process.env, TVISOR_TEST_IMG: img }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('ready')) resolve(); });
    child.once('exit', (c) => reject(new Error(`child exited with ${c} before opening the image`)));
  });
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL'); // no exit handler runs: the lock file stays behind, stale
      await exited;
    },
  };
}

test('a lock held by another tvisor process refuses writable opens (naming its pid), not read-only ones', async () => {
  const p = image();
  const child = await lockingChild(p);
  try {
    assert.throws(() => openDiskImage({ path: p }), (e: Error) => e instanceof DiskError && e.message.includes(`in use by another tvisor process (pid ${child.pid}); use ,readonly to share it`));
    const ro = openDiskImage({ path: p, readOnly: true });
    assert.equal(ro.readOnly, true);
    ro.close();
    const ovl = openDiskImage({ path: p, overlay: path.join(dir, `over-locked${n++}.ovl`) }); // the base is only read
    ovl.close();
  } finally {
    await child.kill();
  }
  // the killed child left its lock file; its pid is dead, so the lock is stale and taken over
  assert.ok(fs.existsSync(diskLockPath(p)));
  const d = openDiskImage({ path: p });
  assert.equal(fs.readFileSync(diskLockPath(p), 'utf8').split('\n')[0], String(process.pid));
  d.close();
});

test('an overlay file in use by another process is refused', async () => {
  const base = image();
  const ovl = path.join(dir, `shared${n++}.ovl`);
  openDiskImage({ path: base, overlay: ovl }).close();
  const child = await lockingChild(ovl); // opening it as a raw image locks the same file
  try {
    assert.throws(() => openDiskImage({ path: base, overlay: ovl }), (e: Error) => e instanceof DiskError && e.message.includes(`pid ${child.pid}`));
  } finally {
    await child.kill();
    fs.rmSync(diskLockPath(ovl), { force: true }); // the killed child's stale lock
  }
});

test('a stale lock left by a dead process is taken over', () => {
  const p = image();
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const lock = diskLockPath(p);
  fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
  fs.writeFileSync(lock, `${dead}\n${p}\n`);
  const d = openDiskImage({ path: p });
  assert.equal(fs.readFileSync(lock, 'utf8').split('\n')[0], String(process.pid));
  d.close();
  assert.ok(!fs.existsSync(lock));
  fs.writeFileSync(lock, 'garbage'); // unreadable owner: stale as well
  openDiskImage({ path: p }).close();
});

test('a disk open for writing in another thread of this process is refused naming its holder, and stays locked', async () => {
  const { Worker } = await import('node:worker_threads');
  const p = image();
  const mod = new URL('./block-file.js', import.meta.url).href;
  // the worker opens the image as "VM a", reports, and keeps it open until told to close it
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     import(${JSON.stringify(mod)}).then(({ openDiskImage }) => {
       const d = openDiskImage({ path: ${JSON.stringify(p)}, owner: 'VM a (first)' });
       parentPort.postMessage('open');
       parentPort.once('message', () => { d.close(); parentPort.postMessage('closed'); });
     });`,
    { eval: true },
  );
  const next = () => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  try {
    assert.equal(await next(), 'open');
    const refused = (e: Error) => e instanceof DiskError && e.message.includes('already open for writing by VM a (first) of this tvisor process');
    assert.throws(() => openDiskImage({ path: p, owner: 'VM b (second)' }), refused);
    assert.throws(() => openDiskImage({ path: p, owner: 'VM b (second)' }), refused, 'the refused attempt released nothing');
    assert.ok(fs.readFileSync(diskLockPath(p), 'utf8').includes('holder=VM a (first)'));
    w.postMessage('close');
    assert.equal(await next(), 'closed');
    openDiskImage({ path: p }).close(); // free once its holder closed it
  } finally {
    await w.terminate();
  }
});

test('locks a dead thread of this process left behind are removed for their owner only', () => {
  const p = image();
  const q = image();
  // what a VM thread that died without its exit handler leaves: a lock of this process, live for it
  fs.mkdirSync(path.dirname(diskLockPath(p)), { recursive: true });
  fs.writeFileSync(diskLockPath(p), preciseLockText(`file=${p}\nholder=VM t (gone)\n`));
  const other = openDiskImage({ path: q, owner: 'VM u (alive)' });
  try {
    assert.throws(() => openDiskImage({ path: p }), /already open for writing by VM t \(gone\) of this tvisor process/);
    releaseAbandonedLocks('VM u (alive)', [p]);
    assert.ok(fs.existsSync(diskLockPath(p)), 'another owner\'s lock is left');
    releaseAbandonedLocks('VM t (gone)', [p, q]);
    assert.ok(!fs.existsSync(diskLockPath(p)), 'removed for its owner');
    assert.ok(fs.existsSync(diskLockPath(q)), 'the live VM\'s lock on another file is left');
    openDiskImage({ path: p }).close();
  } finally {
    other.close();
  }
});
