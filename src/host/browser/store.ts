// VM definitions of the in-page hypervisor: in memory for the page's life, and, for VMs whose disks keep their
// writes in the browser's storage (an OPFS overlay), also in the page's localStorage, so that such a VM comes
// back after a reload as a daemon's comes back after a restart. Ids are random, 8 hex digits, as the daemon's.
import type { Store } from '../../hypervisor/manager-host.js';
import type { StoredVm } from '../../hypervisor/stored-vm.js';

/** The part of the Web Storage API the store uses (window.localStorage). */
export interface KeyValueStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const KEY_PREFIX = 'tvisor.vm.';

export class MemoryStore implements Store {
  readonly vms = new Map<string, StoredVm>();
  private readonly used = new Set<string>();

  /**
   * `persist`: where definitions the `keep` rule picks are also written (default rule: a VM with a disk whose
   * overlay lies under `/opfs/`).
   */
  constructor(private readonly persist?: KeyValueStorage, private readonly keep: (vm: StoredVm) => boolean = keptOnDisk) {}

  /** The definitions kept by earlier pages (those that cannot be read are left out, and named in `problems`). */
  load(): { vms: StoredVm[]; problems: string[] } {
    const vms: StoredVm[] = [];
    const problems: string[] = [];
    const s = this.persist;
    if (!s) return { vms, problems };
    for (let i = 0; i < s.length; i++) {
      const key = s.key(i);
      if (!key?.startsWith(KEY_PREFIX)) continue;
      try {
        const vm = JSON.parse(s.getItem(key) ?? '') as StoredVm;
        if (vm.id !== key.slice(KEY_PREFIX.length) || typeof vm.spec?.name !== 'string') throw new Error('not a VM definition');
        vms.push(vm);
        this.used.add(vm.id);
        this.vms.set(vm.id, vm);
      } catch (e) {
        problems.push(`${key}: ${(e as Error).message}`);
      }
    }
    return { vms, problems };
  }

  save(vm: StoredVm): void {
    this.vms.set(vm.id, vm);
    if (!this.persist) return;
    if (this.keep(vm)) this.persist.setItem(KEY_PREFIX + vm.id, JSON.stringify(vm));
    else this.persist.removeItem(KEY_PREFIX + vm.id);
  }

  remove(id: string): boolean {
    this.persist?.removeItem(KEY_PREFIX + id);
    return this.vms.delete(id);
  }

  newId(): string {
    for (;;) {
      const b = crypto.getRandomValues(new Uint8Array(4));
      const id = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
  }
}

/** A VM whose guest writes outlive the page: one of its disks has an overlay in the browser's storage. */
function keptOnDisk(vm: StoredVm): boolean {
  return vm.spec.disks.some((d) => d.overlay?.startsWith('/opfs/') === true);
}
