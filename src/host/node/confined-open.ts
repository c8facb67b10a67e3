// Opening a file a VM uses (kernel, initrd, firmware, disk, overlay) so that it can neither hang the caller nor
// leave the directories the daemon allows: non-blocking open, a type check, and — given allowed directories —
// a resolved parent, O_NOFOLLOW on the last component, a check of where the opened file really is, no hard links.
import fs from 'node:fs';
import path from 'node:path';

/** Why a file was refused; `message` names the file and says what to do. */
export type RefusalKind = 'missing' | 'type' | 'outside' | 'symlink' | 'hardlink' | 'access' | 'other';

export class FileRefused extends Error {
  override name = 'FileRefused';
  constructor(readonly kind: RefusalKind, readonly label: string, readonly file: string, readonly detail: string) {
    super(`${label} ${file}: ${detail}`);
  }
}

export interface ConfinedOpenOptions {
  /** What the file is, for messages ("kernel", "disk", "disk overlay"). */
  label: string;
  /** Open for writing (disks); default read-only. */
  write?: boolean;
  /** Create the file if it does not exist (overlays): exclusively, never through a symlink. */
  create?: boolean;
  /**
   * Directories the file must lie beneath (their realpaths are compared). Absent: no confinement (tvisor run),
   * only the non-blocking open and the type check.
   */
  allowedDirs?: readonly string[];
}

export interface OpenedFile {
  fd: number;
  st: fs.BigIntStats;
  /** The file did not exist and was created by this call. */
  created: boolean;
}

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** What a file that is not a regular file is, in words. */
export function fileTypeName(st: fs.Stats | fs.BigIntStats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** The allowed directories as real paths (a directory that does not exist allows nothing beneath it). */
export function realDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      out.push(fs.realpathSync(d));
    } catch {
      // missing: nothing can be opened beneath it
    }
  }
  return out;
}

const beneath = (p: string, dirs: readonly string[]) => dirs.some((d) => d === '/' || p === d || p.startsWith(`${d}/`));

/**
 * Opens `file` with O_NONBLOCK (a FIFO never hangs the open) and accepts only a regular file. With allowed
 * directories: the parent directory is resolved and must lie beneath one of them, the last component is
 * opened with O_NOFOLLOW, the opened file's real path (/proc/self/fd) must still lie beneath one, and a
 * file with more than one hard link is refused. Throws FileRefused; the caller owns the returned fd.
 */
export function openConfined(file: string, o: ConfinedOpenOptions): OpenedFile {
  const allowed = o.allowedDirs ? realDirs(o.allowedDirs) : null;
  const target = allowed ? confinedTarget(file, o, allowed) : file;
  const base = (o.write ? O_RDWR : O_RDONLY) | O_NONBLOCK | (allowed ? O_NOFOLLOW : 0);
  let fd: number;
  let created = false;
  try {
    fd = fs.openSync(target, base);
  } catch (e) {
    if (!(o.create && code(e) === 'ENOENT')) throw openRefusal(file, o, e);
    try {
      // O_EXCL never follows a symlink in the last component, so nothing is created outside
      fd = fs.openSync(target, base | O_CREAT | O_EXCL, 0o644);
      created = true;
    } catch (e2) {
      if (code(e2) !== 'EEXIST') throw openRefusal(file, o, e2);
      try {
        fd = fs.openSync(target, base); // another process made it first
      } catch (e3) {
        throw openRefusal(file, o, e3);
      }
    }
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile()) {
      const hint = st.isBlockDevice() ? ' (block devices are not supported: copy it into a file)' : '';
      throw new FileRefused('type', o.label, file, `is ${fileTypeName(st)}, not a regular file${hint}`);
    }
    if (allowed) {
      if (st.nlink > 1n) {
        throw new FileRefused('hardlink', o.label, file, `has ${st.nlink} hard links, and a hard link may share a file outside the allowed directories; copy it (cp) to a file of its own`);
      }
      const real = fdPath(fd);
      if (real !== null && !beneath(real, allowed)) {
        throw new FileRefused('outside', o.label, file, `leads through a symbolic link outside the allowed directories (${o.allowedDirs!.join(', ')})`);
      }
    }
    return { fd, st, created };
  } catch (e) {
    fs.closeSync(fd);
    if (created) fs.rmSync(target, { force: true });
    throw e;
  }
}

/**
 * Checks without opening anything for writing that `file` could be opened as `o` says: an existing file is
 * opened read-only and closed (its stats are returned); a missing one that `o.create` allows needs only its
 * parent confined (null is returned).
 */
export function checkConfined(file: string, o: ConfinedOpenOptions): fs.BigIntStats | null {
  let opened: OpenedFile;
  try {
    opened = openConfined(file, { ...o, write: false, create: false });
  } catch (e) {
    if (!(o.create && e instanceof FileRefused && e.kind === 'missing')) throw e;
    confinedTarget(file, o, o.allowedDirs ? realDirs(o.allowedDirs) : null); // its directory must exist
    return null;
  }
  fs.closeSync(opened.fd);
  return opened.st;
}

/**
 * The path to open: the parent's real path (which must exist and, unless `allowed` is null, lie beneath an
 * allowed directory) and the last component. Where a symlink leads is not told: it lies outside.
 */
function confinedTarget(file: string, o: ConfinedOpenOptions, allowed: readonly string[] | null): string {
  const label = o.label;
  const abs = path.resolve(file);
  const name = path.basename(abs);
  if (name === '' || name === '.' || name === '..') throw new FileRefused('type', label, file, `names a directory, not a file`);
  let parent: string;
  try {
    parent = fs.realpathSync(path.dirname(abs));
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') throw new FileRefused('missing', label, file, `no such file (its directory ${path.dirname(abs)} does not exist)`);
    throw new FileRefused('access', label, file, `cannot resolve its directory (${code(e)})`);
  }
  if (allowed && !beneath(parent, allowed)) {
    const dirs = o.allowedDirs!;
    const how = beneath(path.dirname(abs), [...dirs, ...allowed]) ? 'its directory leads through a symbolic link outside' : 'it is not under';
    throw new FileRefused('outside', label, file, `${how} the allowed directories (${dirs.join(', ')})`);
  }
  return path.join(parent, name);
}

/** Where an open fd really is (Linux /proc); null when the host cannot say. */
function fdPath(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function openRefusal(file: string, o: ConfinedOpenOptions, e: unknown): FileRefused {
  const c = code(e);
  const label = o.label;
  switch (c) {
    case 'ENOENT': return new FileRefused('missing', label, file, `no such file`);
    case 'ELOOP': return new FileRefused('symlink', label, file, `is a symbolic link; give the real path of a file inside the allowed directories`);
    case 'EISDIR': return new FileRefused('type', label, file, `is a directory, not a regular file`);
    case 'ENOTDIR': return new FileRefused('missing', label, file, `no such file (a component of the path is not a directory)`);
    case 'EACCES':
    case 'EPERM':
      return new FileRefused('access', label, file, `permission denied${o.write ? '; fix its permissions, or make the disk readonly (or give it an overlay) to leave it unmodified' : ''}`);
    case 'EROFS': return new FileRefused('access', label, file, `on a read-only file system; make the disk readonly or give it an overlay`);
    default: return new FileRefused('other', label, file, `cannot open it (${c})`);
  }
}

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException | null)?.code ?? (e as Error)?.message ?? String(e);
}
