// VM threads in the browser: a Web Worker per VM thread (vm-worker.ts, a bundle of its own), given the guest
// images (shared memory: no copy per worker) in its first message, then the VM-thread protocol (protocol.ts)
// as in the daemon's Node workers.
import type { HostWorker } from '../../hypervisor/thread-pool.js';
import type { FromHost, ToHost } from '../../hypervisor/protocol.js';
import type { JitMode } from '../../core/jit/mode.js';

/** A disk image on the page's origin, read in ranges as the guest reads it. */
export interface RemoteDisk {
  url: string;
  size: number;
}

/**
 * The worker's first message: the files its VMs may name (by the path their definitions give): in the page's
 * memory, or disk images on its origin; and its JIT mode.
 */
export interface WorkerSetupMessage {
  setup: { files: Record<string, Uint8Array>; disks: Record<string, RemoteDisk>; jit: JitMode };
}

/** Starts a VM worker from the script at `url` (a module worker), with the page's files. */
export function spawnVmWorker(url: string | URL, files: ReadonlyMap<string, Uint8Array>, disks: ReadonlyMap<string, RemoteDisk>, jit: JitMode): HostWorker {
  const w = new Worker(url, { type: 'module', name: 'tvisor VM thread' });
  let messageFn: (m: FromHost) => void = () => {};
  let exitFn: (reason: string) => void = () => {};
  let ended = false;
  w.onmessage = (e: MessageEvent<FromHost>) => messageFn(e.data);
  w.onerror = (e) => {
    e.preventDefault();
    if (!ended) exitFn(`internal error: ${e.message}`);
    ended = true;
  };
  w.onmessageerror = () => {
    if (!ended) exitFn('internal error: a message could not be read');
    ended = true;
  };
  w.postMessage({ setup: { files: Object.fromEntries(files), disks: Object.fromEntries(disks), jit } } satisfies WorkerSetupMessage);
  return {
    send: (m: ToHost, transfer?: ArrayBuffer[]) => w.postMessage(m, transfer ?? []),
    onMessage: (fn) => (messageFn = fn),
    onExit: (fn) => (exitFn = fn),
    terminate: () => {
      ended = true;
      w.terminate();
    },
  };
}
