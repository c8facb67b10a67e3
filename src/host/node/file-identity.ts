// What a snapshot records of each file its machine uses, to refuse a restore when one changed since: the
// file's size and modification time (ns) and its device and inode, so a file replaced by another is noticed too.
import { statSync } from 'node:fs';

export interface FileIdentity {
  path: string;
  size: number;
  /** Modification time in ns, and the device and inode numbers, as decimal strings. */
  mtimeNs: string;
  dev: string;
  ino: string;
}

export function fileIdentity(path: string): FileIdentity {
  const s = statSync(path, { bigint: true });
  return { path, size: Number(s.size), mtimeNs: s.mtimeNs.toString(), dev: s.dev.toString(), ino: s.ino.toString() };
}

/** Why `path` is not the file it was when recorded, or null when it is. */
export function fileChanged(was: FileIdentity): string | null {
  let now: FileIdentity;
  try {
    now = fileIdentity(was.path);
  } catch (e) {
    return `it cannot be read any more (${(e as Error).message})`;
  }
  if (now.dev !== was.dev || now.ino !== was.ino) return 'another file is in its place';
  if (now.size !== was.size) return `its size changed from ${was.size} to ${now.size} bytes`;
  if (now.mtimeNs !== was.mtimeNs) return 'it was modified since';
  return null;
}
