// Tests of the state directory: round trips, crash leftovers, corrupt files reported and kept, id uniqueness,
// and the daemon lock (refusal while held, stale takeover).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { StoreError, VmStore } from './store.js';
import type { StoredVm } from '../../hypervisor/stored-vm.js';
import { parseVmSpec } from '../../hypervisor/spec.js';

const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-store-'));
  made.push(d);
  return d;
}

function vm(id: string, over: Partial<StoredVm> = {}): StoredVm {
  return {
    id,
    spec: parseVmSpec({ name: `vm-${id}`, vcpus: 1, memory_mib: 64, kernel: '/srv/Image', disks: [{ path: '/srv/a.img', rate_limiter: { ops: { size: 10, refill_time_ms: 100 } } }] }),
    balloon_mib: 0,
    desired: 'stopped',
    state: 'created',
    created_at: '2025-01-02T03:04:05.000Z',
    ...over,
  };
}

test('definitions round-trip, oldest first, and survive reopening', () => {
  const dir = path.join(tempDir(), 'state'); // created on open
  const s = VmStore.open(dir);
  assert.deepEqual(s.load(), { vms: [], problems: [] });
  const a = vm(s.newId(), { created_at: '2025-01-02T00:00:00.000Z' });
  const b = vm(s.newId(), { created_at: '2024-12-31T00:00:00.000Z', state: 'crashed', reason: 'guest fault', desired: 'running', balloon_mib: 16 });
  s.save(a);
  s.save(b);
  assert.deepEqual(s.load(), { vms: [b, a], problems: [] });
  s.save({ ...a, state: 'running', desired: 'running' }); // replaces
  s.close();

  const again = VmStore.open(dir);
  assert.deepEqual(again.load().vms, [b, { ...a, state: 'running', desired: 'running' }]);
  assert.equal(again.remove(b.id), true);
  assert.equal(again.remove(b.id), false);
  assert.deepEqual(again.load().vms.map((v) => v.id), [a.id]);
  assert.deepEqual(fs.readdirSync(again.dir).sort(), ['daemon.lock', `vm-${a.id}.json`]); // no temp files left
  again.close();
  assert.ok(!fs.existsSync(path.join(dir, 'daemon.lock')), 'close releases the lock');
});

test('a crash between writing the temp file and the rename leaves the old definition', () => {
  const dir = tempDir();
  const s = VmStore.open(dir);
  const id = s.newId();
  s.save(vm(id));
  // what a crash leaves: a complete new version and a torn one, neither renamed into place
  fs.writeFileSync(path.join(dir, `.vm-${id}.json.999-0.tmp`), JSON.stringify({ format: 1, ...vm(id, { state: 'running' }) }));
  fs.writeFileSync(path.join(dir, `.vm-${id}.json.999-1.tmp`), '{"format": 1, "id": "');
  s.close();

  const after = VmStore.open(dir);
  assert.deepEqual(after.load(), { vms: [vm(id)], problems: [] });
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'leftover temp files are cleaned up');
  after.close();
});

test('a failed save keeps the previous definition', () => {
  const dir = tempDir();
  const s = VmStore.open(dir);
  const id = s.newId();
  s.save(vm(id));
  const bad = { ...vm(id), spec: { ...vm(id).spec, name: 'x'.repeat(10) } } as StoredVm;
  (bad as unknown as { created_at: bigint }).created_at = 1n; // JSON.stringify throws on BigInt
  assert.throws(() => s.save(bad), (e: unknown) => e instanceof StoreError && /previous definition is unchanged/.test(e.message));
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  assert.deepEqual(s.load(), { vms: [vm(id)], problems: [] });
  s.close();
});

test('corrupt or unreadable files are reported and left in place, the rest still load', () => {
  const dir = tempDir();
  const s = VmStore.open(dir);
  const good = vm(s.newId());
  s.save(good);
  const files: Record<string, string> = {
    'vm-00000001.json': '{"format": 1, "id": "00000001", "spec": ',
    'vm-00000002.json': JSON.stringify({ format: 1, ...vm('00000002'), spec: { name: 'x', vcpus: 99, memory_mib: 64, kernel: '/k' } }),
    'vm-00000003.json': JSON.stringify({ format: 1, ...vm('00000004') }),
    'vm-00000005.json': JSON.stringify({ format: 2, ...vm('00000005') }),
    'vm-00000006.json': JSON.stringify({ format: 1, ...vm('00000006'), state: 'exploded' }),
    'vm-NOTANID.json': JSON.stringify({ format: 1, ...vm('NOTANID') }),
    'notes.txt': 'not ours',
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  fs.mkdirSync(path.join(dir, 'vm-00000007.json'));

  const { vms, problems } = s.load();
  assert.deepEqual(vms, [good]);
  assert.equal(problems.length, 7, problems.join('\n'));
  const about = (name: string) => problems.find((p) => p.includes(name)) ?? '';
  assert.match(about('vm-00000001.json'), /not valid JSON/);
  assert.match(about('vm-00000002.json'), /spec: vcpus must be an integer from 1 to 8, got 99/);
  assert.match(about('vm-00000003.json'), /does not match the file name/);
  assert.match(about('vm-00000005.json'), /format 2/);
  assert.match(about('vm-00000006.json'), /state "exploded"/);
  assert.match(about('vm-00000007.json'), /cannot read it \(EISDIR\)/);
  for (const name of Object.keys(files)) assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), files[name], `${name} untouched`);
  s.close();
});

test('new ids are 8 hex digits and never collide with existing, corrupt or already handed-out ones', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'vm-aaaaaaaa.json'), 'corrupt');
  const seq = ['aaaaaaaa', 'bbbbbbbb', 'bbbbbbbb', 'aaaaaaaa', 'cccccccc', 'dddddddd'];
  const s = VmStore.open(dir, { randomId: () => seq.shift() ?? 'ffffffff' });
  assert.equal(s.newId(), 'bbbbbbbb'); // aaaaaaaa exists on disk even before load()
  assert.equal(s.newId(), 'cccccccc'); // bbbbbbbb was handed out, though not saved yet
  s.load();
  assert.equal(s.newId(), 'dddddddd');
  s.close();

  const real = VmStore.open(tempDir());
  const ids = new Set(Array.from({ length: 200 }, () => real.newId()));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}$/);
  real.close();
});

test('a second daemon on the same directory is refused; a stale lock is taken over', () => {
  const dir = tempDir();
  const lock = path.join(dir, 'daemon.lock');
  const first = VmStore.open(dir);
  assert.throws(() => VmStore.open(dir), (e: unknown) => e instanceof StoreError && /already in use by this process/.test(e.message));
  first.close();

  // another live process holds it (our parent stands in for another daemon)
  fs.writeFileSync(lock, `${process.ppid}\n`);
  assert.throws(() => VmStore.open(dir), (e: unknown) => e instanceof StoreError && e.message.includes(`in use by another tvisor daemon (pid ${process.ppid})`));
  assert.equal(fs.readFileSync(lock, 'utf8'), `${process.ppid}\n`, 'a live lock is left alone');

  // the holder died: its lock is stale
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.ok(dead);
  fs.writeFileSync(lock, `${dead}\n`);
  const s = VmStore.open(dir);
  assert.equal(fs.readFileSync(lock, 'utf8'), `${process.pid}\n`);
  s.close();

  // garbage, or our own pid left by an earlier daemon that had it (pid 1 in a container), count as stale too
  for (const text of ['', 'garbage\n', `${process.pid}\n`]) {
    fs.writeFileSync(lock, text);
    const t = VmStore.open(dir);
    assert.equal(fs.readFileSync(lock, 'utf8'), `${process.pid}\n`);
    t.close();
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'no lock leftovers');
});

test('a lock held by a real second process refuses the directory until that process ends', async () => {
  const dir = tempDir();
  const storeUrl = new URL('./store.js', import.meta.url).href;
  const script = `import(${JSON.stringify(storeUrl)}).then(({ VmStore }) => { VmStore.open(${JSON.stringify(dir)}); process.stdout.write('locked'); process.stdin.once('end', () => process.exit(0)).resume(); })`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  assert.throws(() => VmStore.open(dir), (e: unknown) => e instanceof StoreError && e.message.includes(`pid ${child.pid}`));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end();
  assert.equal(await exited, 0);
  assert.ok(!fs.existsSync(path.join(dir, 'daemon.lock')), 'released by its exit hook');
  VmStore.open(dir).close();
});
