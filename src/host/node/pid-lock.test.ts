// Tests of the pid lock files with a precise holder identity: a lock of this process (another thread) is live,
// one left by an earlier process with our pid or a recycled pid is stale, and release removes only our own text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquirePidLock, preciseLockText, processIdentity, releasePidLock } from './pid-lock.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-pid-lock-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const lockFile = () => path.join(dir, `l${n++}.lock`);
const linux = process.platform === 'linux';

test('the identity is the process start time, and a precise lock names pid, identity and a nonce', { skip: !linux && 'needs /proc' }, () => {
  assert.match(processIdentity() ?? '', /^\d+$/);
  const a = preciseLockText('file=/x\n');
  const b = preciseLockText('file=/x\n');
  assert.match(a, new RegExp(`^${process.pid}\\nstart=${processIdentity()}\\nnonce=[0-9a-f]{16}\\nfile=/x\\n$`));
  assert.notEqual(a, b, 'each lock has its own nonce');
});

test('a precise lock of this process is live: a second taker (another thread) is refused with our pid', { skip: !linux && 'needs /proc' }, () => {
  const p = lockFile();
  const mine = preciseLockText('');
  assert.equal(acquirePidLock(p, mine), null);
  assert.equal(acquirePidLock(p, preciseLockText('')), process.pid);
  assert.equal(fs.readFileSync(p, 'utf8'), mine, 'left alone');
  // another holder's release (other text) leaves it; ours removes it
  releasePidLock(p, preciseLockText(''));
  assert.equal(fs.readFileSync(p, 'utf8'), mine);
  releasePidLock(p, mine);
  assert.ok(!fs.existsSync(p));
});

test('a lock of our pid from an earlier process, or of a recycled pid, is stale and taken over', { skip: !linux && 'needs /proc' }, () => {
  const p = lockFile();
  fs.writeFileSync(p, `${process.pid}\nstart=1\nnonce=0\n`); // same pid, another start time: an earlier process
  const mine = preciseLockText('');
  assert.equal(acquirePidLock(p, mine), null);
  assert.equal(fs.readFileSync(p, 'utf8'), mine);
  releasePidLock(p, mine);
  // our parent is alive, but the lock says it started at another time: its pid was recycled
  fs.writeFileSync(p, `${process.ppid}\nstart=1\nnonce=0\n`);
  assert.equal(acquirePidLock(p, mine), null);
  releasePidLock(p, mine);
  // with the parent's real start time the lock is live
  const stat = fs.readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  fs.writeFileSync(p, `${process.ppid}\nstart=${start}\nnonce=0\n`);
  assert.equal(acquirePidLock(p, mine), process.ppid);
  fs.rmSync(p);
});
