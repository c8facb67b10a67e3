// The daemon's registry of disk files its VMs write (one per process, beside the cross-process lock files):
// which files a VM's start would open for writing or as an overlay's base, and the refusal of a second writer.
import { diskInUse } from './errors.js';
import type { VmSpec } from './model.js';

type Uses = Map<string, { field: string; path: string }>;

export interface DiskHold {
  vmId: string;
  vmName: string;
  /** The name the VM's lock files carry (VmThreadConfig disks' owner). */
  owner: string;
  /** Opened for writing: raw disks that are not readonly, and overlays. */
  writes: Uses;
  /** Opened read-only as an overlay's base (which must not change under it). */
  bases: Uses;
}

/**
 * The hold a VM's start needs; throws disk_in_use (409) when it writes a file one of `others` (another VM's
 * holds) writes or reads as a base, or reads as a base a file another writes.
 */
export function diskHold(
  vm: { id: string; name: string; disks: VmSpec['disks'] },
  others: Iterable<DiskHold>,
  fileIdentity?: (path: string) => string,
): DiskHold {
  // by identity, and by path too: an overlay not created yet has no identity, and gets one once created
  const keys = (path: string) => [`path:${path}`, fileIdentity?.(path) ?? `path:${path}`];
  const hold: DiskHold = { vmId: vm.id, vmName: vm.name, owner: `VM ${vm.id} (${vm.name})`, writes: new Map(), bases: new Map() };
  const add = (into: Uses, field: string, path: string) => {
    for (const k of keys(path)) into.set(k, { field, path });
  };
  vm.disks.forEach((d, i) => {
    if (d.overlay !== undefined) {
      add(hold.writes, `disks[${i}].overlay`, d.overlay);
      add(hold.bases, `disks[${i}].path`, d.path);
    } else if (!d.readonly) add(hold.writes, `disks[${i}].path`, d.path);
  });
  for (const other of others) {
    if (other.vmId === vm.id) continue;
    const clash = (mine: Uses, theirs: Uses) => {
      for (const [k, f] of mine) {
        const t = theirs.get(k);
        if (t) throw diskInUse(f.field, f.path, other.vmId, other.vmName, t.path);
      }
    };
    clash(hold.writes, other.writes);
    clash(hold.writes, other.bases);
    clash(hold.bases, other.writes);
  }
  return hold;
}
