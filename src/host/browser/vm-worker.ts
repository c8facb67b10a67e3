// A VM thread in a browser: a module Web Worker running the daemon's VM-thread logic (hypervisor/vm-slot.ts)
// with the browser's backends: boot files from the page's shared memory (sent in the first message), disks
// copied into the worker's memory from the page's files (the guest's writes last as long as the VM), entropy
// from crypto.getRandomValues. No snapshots here yet.
import { VmThreadMain, type VmSlotHost } from '../../hypervisor/vm-slot.js';
import { buildDevices, type DiskOpenSpec } from '../../hypervisor/devices.js';
import { MemoryBlockBackend } from '../../core/virtio/blk/backend.js';
import { warmUp } from '../../core/machine/warmup.js';
import type { ToHost } from '../../hypervisor/protocol.js';
import type { WorkerSetupMessage } from './threads.js';

/** crypto.getRandomValues fills at most 65536 bytes a call (Web Crypto §10.1.1). */
function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** setImmediate for a worker: a task after the current one (a MessageChannel's message is one). */
function soonQueue(): (fn: () => void) => void {
  const tasks: (() => void)[] = [];
  const ch = new MessageChannel();
  ch.port1.onmessage = () => tasks.shift()?.();
  return (fn) => {
    tasks.push(fn);
    ch.port2.postMessage(0);
  };
}

function start(setup: WorkerSetupMessage['setup']): VmThreadMain {
  const files = new Map(Object.entries(setup.files));
  const file = (label: string, path: string) => {
    const f = files.get(path);
    if (!f) throw new Error(`${label}: this page has no file ${path}`);
    return f;
  };
  // V8 optimizes the interpreter with feedback from every case before the first guest runs (as the daemon's threads)
  warmUp(setup.jit);
  const host: VmSlotHost = {
    jit: setup.jit,
    post: (m, transfer) => postMessage(m, { transfer: transfer ?? [] }),
    loadImages: (cfg) => ({
      kernel: file('kernel', cfg.machine.kernel),
      initrd: cfg.machine.initrd ? file('initrd', cfg.machine.initrd) : undefined,
      firmware: cfg.machine.firmware ? file('firmware', cfg.machine.firmware) : undefined,
    }),
    buildDevices: (m, o) => buildDevices(m, {
      ...o,
      openDisk: (spec: DiskOpenSpec) => new MemoryBlockBackend(file('disk', spec.path).slice(), spec.readOnly ?? false),
      diskSize: (path, label) => file(label, path).length,
      random,
    }),
    random,
    soon: soonQueue(),
    later: (fn, ms) => void setTimeout(fn, ms),
  };
  return new VmThreadMain(host);
}

let main: VmThreadMain | null = null;
onmessage = (e: MessageEvent<WorkerSetupMessage | ToHost>) => {
  const data = e.data;
  if ('setup' in data) {
    main = start(data.setup);
    return;
  }
  main?.handle(data);
};
