// Restoring a VM from a snapshot, the host-neutral part: what the host's reader of a snapshot file gives the VM
// manager (SnapshotSource), and the plan of a restore: the new VM's name, where each new overlay goes, and the
// definition it will have, all checked before a file is made.
import * as E from './errors.js';
import { DEFAULT_SCHEDULING, NAME_PATTERN, type RestoreRequest, type VmSpec } from './model.js';
import { checkAllowedPaths, checkPathsAllowed } from './paths.js';
import { diskName, specFromMachine, type MachineDescription } from './machine.js';

/** A snapshot file opened to restore a VM from (the host reads it: src/host/node/snapshot-file.ts). */
export interface SnapshotSource {
  /** The machine saved (its disks with the overlays they had). */
  machine: MachineDescription;
  /** The saved VM's scheduling settings, when it was the daemon's. */
  settings?: { weight: number; cap: number };
  /** The disks (vda, …) saved with a copy of their overlay: each restored VM gets a new overlay made from it. */
  savedDisks: string[];
  /** Where VM `name`'s new overlay of `disk` goes when the request names none. */
  defaultOverlay(name: string, disk: string): string;
  /**
   * Makes the new overlays (never replacing a file) and returns the machine with them, and the files made.
   * Throws ApiError.
   */
  clone(name: string, overlays: Readonly<Record<string, string>>): { machine: MachineDescription; made: string[] };
  /** Removes files clone() made (the VM could not be defined after all). */
  discard(made: string[]): void;
}

/** The request's paths, before the file is opened: a snapshot or an overlay outside the allowed directories is refused. */
export function checkRestorePaths(req: RestoreRequest, allowedDirs: readonly string[] | undefined): void {
  if (!allowedDirs) return;
  const overlays = Object.entries(req.overlays ?? {}).map(([d, path]) => ({ field: `overlays.${d}`, path }));
  checkPathsAllowed([{ field: 'snapshot', path: req.snapshot }, ...overlays], allowedDirs);
}

/**
 * The new VM's definition and overlays: named as asked or as saved, each saved disk's overlay where asked or
 * beside the snapshot, scheduling as asked or as saved. Throws ApiError for a bad name, an overlay asked for a
 * disk the snapshot saved none of, or a file outside the allowed directories.
 */
export function planRestore(src: SnapshotSource, req: RestoreRequest, allowedDirs: readonly string[] | undefined): { spec: VmSpec; overlays: Record<string, string> } {
  const name = req.name ?? src.machine.name;
  if (!new RegExp(NAME_PATTERN, 'u').test(name)) throw E.badName(name);
  for (const disk of Object.keys(req.overlays ?? {})) {
    if (!src.savedDisks.includes(disk)) {
      throw new E.ApiError('bad_request', `overlays.${disk}: the snapshot saved no overlay of disk ${disk}${src.savedDisks.length ? ` (only of ${src.savedDisks.join(', ')})` : ''}; its other disks are used as they are`);
    }
  }
  const overlays = Object.fromEntries(src.savedDisks.map((d) => [d, req.overlays?.[d] ?? src.defaultOverlay(name, d)]));
  let i = 0;
  const planned: MachineDescription = {
    ...src.machine,
    devices: src.machine.devices.map((d) => {
      if (d.kind !== 'block') return d;
      const overlay = overlays[diskName(i++)];
      return overlay === undefined ? d : { ...d, overlay };
    }),
  };
  const settings = { ...DEFAULT_SCHEDULING, ...src.settings };
  const spec = specFromMachine(planned, name, { weight: req.weight ?? settings.weight, cap: req.cap ?? settings.cap });
  if (allowedDirs) checkAllowedPaths(spec, allowedDirs);
  return { spec, overlays };
}
