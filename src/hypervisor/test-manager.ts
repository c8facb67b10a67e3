// A VmManager on fake VM threads, for the manager's unit tests: what each thread was sent, a way to answer as
// that thread, and what the manager stored and logged. Options override the defaults (one pCPU, a large budget).
import { VmManager, type ManagerOptions, type VmThread } from './manager.js';
import type { StoredVm } from './stored-vm.js';
import type { FromVm, ToVm } from './protocol.js';

export interface FakeThread {
  /** Messages the manager sent to the thread, oldest first. */
  sent: ToVm[];
  /** Answers as the thread would. */
  emit(m: FromVm): void;
}

export function fakeManager(options: Partial<ManagerOptions> = {}) {
  const threads: FakeThread[] = [];
  /** Copies of every definition the manager stored, in order. */
  const saves: StoredVm[] = [];
  const logs: string[] = [];
  let ids = 0;
  const manager = new VmManager({
    pcpus: 1,
    memoryBudgetMib: 1 << 20,
    store: { save: (vm) => saves.push(structuredClone(vm)), remove: () => true, newId: () => String(++ids).padStart(8, '0') },
    spawn: (): VmThread => {
      let handler: (m: FromVm) => void = () => {};
      const t: FakeThread = { sent: [], emit: (m) => handler(m) };
      threads.push(t);
      return { send: (m) => t.sent.push(m), onMessage: (fn) => (handler = fn), onExit: () => {}, terminate: () => {} };
    },
    nowNs: () => 0,
    checkKernel: () => {},
    defaultCmdline: 'console=ttyS0',
    log: (line) => logs.push(line),
    ...options,
  });
  /** The definition of VM `id` as last stored. */
  const lastSaved = (id: string): StoredVm | undefined => saves.filter((s) => s.id === id).at(-1);
  return { manager, threads, saves, lastSaved, logs };
}
