// Which files a VM definition names, and the check that each lies in a directory the daemon allows: used by the
// API on a definition it is sent, and by the VM manager on one it derives (a VM restored from a snapshot).
// Host-neutral: paths are judged as text (POSIX), no file is looked at.
import * as E from './errors.js';
import type { VmSpec } from './model.js';
import { firmwareFile } from './machine.js';

/**
 * An absolute POSIX path with "." and ".." resolved and repeated or trailing "/" removed, as path.posix.resolve
 * gives for an absolute path ("/" stays "/"); a relative path is taken from "/".
 */
export function resolvePath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** Every file a spec names, with the field that names it. */
export function specPaths(spec: VmSpec): { field: string; path: string }[] {
  const out: { field: string; path: string }[] = spec.kernel !== undefined ? [{ field: 'kernel', path: spec.kernel }] : [];
  if (spec.initrd !== undefined) out.push({ field: 'initrd', path: spec.initrd });
  const fw = firmwareFile(spec.firmware);
  if (fw !== undefined) out.push({ field: 'firmware', path: fw });
  if (spec.flash) out.push({ field: 'flash.image', path: spec.flash.image });
  if (spec.flash?.vars !== undefined) out.push({ field: 'flash.vars', path: spec.flash.vars });
  spec.disks.forEach((d, i) => {
    out.push({ field: `disks[${i}].path`, path: d.path });
    if (d.overlay !== undefined) out.push({ field: `disks[${i}].overlay`, path: d.overlay });
  });
  return out;
}

/**
 * Throws forbidden_path (or bad_request for a path that is not absolute and normalised) unless every file the spec names lies strictly under one of `allowedDirs` (which are
 * resolved first, so "/srv/vms/" and "/srv/x/../vms" both mean /srv/vms). Paths must be absolute and
 * normalised: containment is judged on the text after resolving ".." and ".", and a path that needs
 * resolving is refused, since the kernel resolves ".." after following symlinks and could land elsewhere.
 * Symlinks are the caller's job: this looks at no file, so the caller must open files without following
 * links out of the allowed directories (the daemon opens them through src/host/node/confined-open.ts, at
 * create and again in the VM thread at every start).
 */
export function checkAllowedPaths(spec: VmSpec, allowedDirs: readonly string[]): void {
  checkPathsAllowed(specPaths(spec), allowedDirs);
}

/** checkAllowedPaths for any list of named paths (a snapshot and the overlays of a restore, say). */
export function checkPathsAllowed(paths: readonly { field: string; path: string }[], allowedDirs: readonly string[]): void {
  const dirs = allowedDirs.map((d) => resolvePath(d));
  for (const { field, path } of paths) {
    if (!path.startsWith('/')) throw E.pathNotAbsolute(field, path);
    if (path.includes('\u0000')) throw E.pathHasNul(field);
    const resolved = resolvePath(path);
    if (!dirs.some((d) => d === '/' || resolved.startsWith(`${d}/`))) throw E.forbiddenPath(field, path, dirs);
    if (resolved !== path) throw E.pathNotNormalised(field, path, resolved);
  }
}
