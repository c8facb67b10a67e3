// Lock files for Node hosts, which have no flock(): a holder announces itself with a file whose first line is
// its pid, created atomically by link() so it is never seen empty; a lock whose pid is dead (or is our own pid
// but was left by an earlier process) is stale and taken over. Used for disk images and the daemon's state
// directory. This guards against processes on this host, not against other hosts sharing files over a network.
import fs from 'node:fs';
import path from 'node:path';

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM'; // exists but is not ours: treat as alive rather than risk two holders
  }
}

/**
 * Takes the lock at `lockPath`, writing `text` (its first line must be our pid) into it. Returns null when
 * taken, or the pid of the live process that holds it. Throws PidLockError on host trouble.
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
      const pid = lockOwner(seen);
      if (pid !== null && pid !== process.pid && alive(pid)) return pid;
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

/** Removes the lock if this process holds it. */
export function releasePidLock(lockPath: string): void {
  try {
    if (lockOwner(readLock(lockPath)) === process.pid) fs.unlinkSync(lockPath);
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
