// Lock files for Node hosts, which have no flock(): a holder announces itself with a file whose first line is
// its pid, created atomically by link() so it is never seen empty; a lock whose pid is dead is stale and taken
// over. A lock may also name its process precisely (processIdentity(): the pid's start time, the same in all
// threads): then a lock of our pid and identity is held by this process (another thread) and is live, and one
// whose pid now belongs to another process (recycled) is stale. A lock with the pid alone that is our own pid
// was left by an earlier process (pid 1 in containers) and is stale. Used for disk images and the daemon's
// state directory. This guards against processes on this host, not against other hosts sharing a network fs.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Host trouble while taking a lock; `step` says which (callers phrase the message). */
export class PidLockError extends Error {
  override name = 'PidLockError';
  constructor(readonly step: 'create' | 'link' | 'stale' | 'busy', readonly detail: string) {
    super(`${step}: ${detail}`);
  }
}

let unique = 0;

export function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException | null)?.code ?? (e as Error)?.message ?? String(e);
}

/** The lock's text; null when there is none, '' when unreadable (which then counts as stale). */
function readLock(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return errCode(e) === 'ENOENT' ? null : '';
  }
}

function lockOwner(text: string | null): number | null {
  const first = text?.split('\n')[0] ?? '';
  return /^[1-9]\d{0,9}$/.test(first) ? Number(first) : null;
}

/** The `start=` line of a lock that names its process precisely, or null. */
function lockIdentity(text: string): string | null {
  const m = /^start=(\S+)$/m.exec(text);
  return m ? m[1] : null;
}

/** The start time of process `pid` in clock ticks since boot (proc(5), /proc/PID/stat field 22), or null. */
function startTime(pid: number | 'self'): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return /^\d+$/.test(fields[19] ?? '') ? fields[19] : null;
  } catch {
    return null;
  }
}

let ownIdentity: string | null | undefined;

/**
 * This process's identity for lock files: its start time (Linux /proc), the same in every thread of the
 * process and different for a later process that gets the same pid; null where the host cannot tell.
 */
export function processIdentity(): string | null {
  if (ownIdentity === undefined) ownIdentity = startTime('self');
  return ownIdentity;
}

/**
 * The text of a lock naming this process precisely: pid, identity, a nonce for this one lock, then `note`
 * (lines the holder wants a refused process to see, e.g. which file and which VM).
 */
export function preciseLockText(note: string): string {
  const id = processIdentity();
  const nonce = randomBytes(8).toString('hex');
  return `${process.pid}\n${id === null ? '' : `start=${id}\n`}nonce=${nonce}\n${note}`;
}

/** Who holds a lock judged by its text: null when it is stale. */
function liveHolder(text: string): number | null {
  const pid = lockOwner(text);
  if (pid === null) return null;
  const id = lockIdentity(text);
  if (id === null) return pid !== process.pid && alive(pid) ? pid : null;
  if (pid === process.pid) return id === processIdentity() ? pid : null;
  if (!alive(pid)) return null;
  const now = startTime(pid);
  return now === null || now === id ? pid : null; // unreadable /proc: rather two refusals than two writers
}

/** Whether a lock's text names this very process (pid and identity): held by one of its threads. */
export function heldByThisProcess(text: string): boolean {
  const id = lockIdentity(text);
  return lockOwner(text) === process.pid && id !== null && id === processIdentity();
}

/** The text of the lock at `lockPath` now, or null when there is none or it cannot be read. */
export function readPidLock(lockPath: string): string | null {
  const t = readLock(lockPath);
  return t === '' ? null : t;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM'; // exists but is not ours: treat as alive rather than risk two holders
  }
}

/**
 * Takes the lock at `lockPath`, writing `text` (its first line must be our pid; preciseLockText makes one
 * that names this process exactly) into it. Returns null when taken, or the pid of the live process that holds
 * it — our own pid when another thread of this process does. Throws PidLockError on host trouble.
 */
export function acquirePidLock(lockPath: string, text: string): number | null {
  const tmp = `${lockPath}.${process.pid}.${unique++}.new`;
  try {
    fs.writeFileSync(tmp, text, { mode: 0o600 });
  } catch (e) {
    throw new PidLockError('create', errCode(e));
  }
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        fs.linkSync(tmp, lockPath);
        fsyncDir(path.dirname(lockPath));
        return null;
      } catch (e) {
        if (errCode(e) !== 'EEXIST') throw new PidLockError('link', errCode(e));
      }
      const seen = readLock(lockPath);
      if (seen === null) continue; // released meanwhile
      const pid = liveHolder(seen);
      if (pid !== null) return pid;
      // stale: move it aside; if what was moved is not what we judged, another process took it over first
      const aside = `${lockPath}.${process.pid}.${unique++}.stale`;
      try {
        fs.renameSync(lockPath, aside);
      } catch (e) {
        if (errCode(e) === 'ENOENT') continue;
        throw new PidLockError('stale', errCode(e));
      }
      if (readLock(aside) !== seen) {
        try {
          fs.linkSync(aside, lockPath);
        } catch {
          // yet another process holds it now; the next attempt sees that
        }
      }
      fs.rmSync(aside, { force: true });
    }
    throw new PidLockError('busy', 'the lock changed hands too often');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes the lock if it is ours: when `text` is given, only if the file still holds exactly that text (so a
 * thread never removes another thread's lock, nor one taken over since); otherwise if its pid is ours.
 */
export function releasePidLock(lockPath: string, text?: string): void {
  try {
    const seen = readLock(lockPath);
    if (text !== undefined ? seen === text : lockOwner(seen) === process.pid) fs.unlinkSync(lockPath);
  } catch {
    // already gone: nothing to release
  }
}

/** Makes renames, links and unlinks in `dir` durable; best effort, since some platforms cannot open directories. */
export function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // e.g. Windows cannot open directories
  }
  if (fd >= 0) fs.closeSync(fd);
}
