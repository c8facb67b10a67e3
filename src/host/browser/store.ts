// VM definitions of the in-page hypervisor: kept in memory for the page's life (the daemon keeps them in its
// state directory). Ids are random, 8 hex digits, as the daemon's.
import type { Store } from '../../hypervisor/manager-host.js';
import type { StoredVm } from '../../hypervisor/stored-vm.js';

export class MemoryStore implements Store {
  readonly vms = new Map<string, StoredVm>();
  private readonly used = new Set<string>();

  save(vm: StoredVm): void {
    this.vms.set(vm.id, vm);
  }

  remove(id: string): boolean {
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
