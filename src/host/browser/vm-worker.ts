// A VM thread in a browser: a module Web Worker running the daemon's VM-thread logic (hypervisor/vm-slot.ts)
// with the browser's backends: boot files from the page's shared memory (sent in the first message); disks
// over a base (a file of the page, or an image on its origin read in ranges) under a copy-on-write overlay,
// in memory or in the origin private file system (opened before the VM's machine is built: OPFS opens
// asynchronously, the machine is built synchronously); snapshots in OPFS files (snapshots.ts); entropy from
// crypto.getRandomValues.
import { VmThreadMain, type VmSlotHost } from '../../hypervisor/vm-slot.js';
import { buildDevices, type DiskOpenSpec } from '../../hypervisor/devices.js';
import { NO_FIRMWARE } from '../../hypervisor/machine.js';
import { MemoryBlockBackend, type BlockBackend } from '../../core/virtio/blk/backend.js';
import { warmUp } from '../../core/machine/warmup.js';
import type { ToHost } from '../../hypervisor/protocol.js';
import type { WorkerSetupMessage } from './threads.js';
import { HttpRangeDisk, MemoryOverlayStore, OpfsOverlayStore, OverlayDisk, type SyncHandle } from './disks.js';
import { FileDigests, OPFS_PREFIX, opfsName, WorkerSnapshots } from './snapshots.js';

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

/** OPFS handles opened for overlays about to be used, by overlay path: the data file and its map (or why not). */
const opened = new Map<string, { data: SyncHandle; map: SyncHandle } | Error>();

/** How long to wait for an overlay's files to be free: a VM restarting takes them over from its last worker. */
const OPFS_WAIT_MS = 10_000;

async function openSyncHandle(dir: FileSystemDirectoryHandle, name: string): Promise<SyncHandle> {
  const file = await dir.getFileHandle(name, { create: true });
  const end = performance.now() + OPFS_WAIT_MS;
  for (;;) {
    try {
      return await (file as unknown as { createSyncAccessHandle(): Promise<SyncHandle> }).createSyncAccessHandle();
    } catch (e) {
      // NoModificationAllowedError: another worker still holds it (a VM stopping); anything else is final
      if ((e as DOMException).name !== 'NoModificationAllowedError' || performance.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Snapshot files opened for the message about to be handled (a restore's init, a snapshot), by path (or why not). */
const snapshotFiles = new Map<string, SyncHandle | Error>();

/** Opens the OPFS files a message needs: a VM's overlays and the snapshot it restores, or the snapshot to write. */
async function openFiles(m: ToHost): Promise<void> {
  const snapshot = m.m.t === 'snapshot' ? m.m.path : m.m.t === 'init' && m.m.config.restore && 'snapshot' in m.m.config.restore ? m.m.config.restore.snapshot : undefined;
  if (snapshot !== undefined) {
    try {
      const dir = await navigator.storage.getDirectory();
      snapshotFiles.set(snapshot, await openSyncHandle(dir, opfsName(snapshot)));
    } catch (e) {
      snapshotFiles.set(snapshot, e as Error);
    }
  }
  if (m.m.t !== 'init') return;
  const overlays = m.m.config.machine.devices.flatMap((d) => (d.kind === 'block' && d.overlay?.startsWith(OPFS_PREFIX) ? [d.overlay] : []));
  if (overlays.length === 0) return;
  const dir = await navigator.storage.getDirectory();
  for (const path of overlays) {
    const name = path.slice(OPFS_PREFIX.length);
    try {
      opened.set(path, { data: await openSyncHandle(dir, name), map: await openSyncHandle(dir, `${name}.map`) });
    } catch (e) {
      opened.set(path, new Error(`overlay ${path}: the browser's storage refused it: ${(e as Error).message}`));
    }
  }
}

function start(setup: WorkerSetupMessage['setup']): VmThreadMain {
  const files = new Map(Object.entries(setup.files));
  const remote = new Map(Object.entries(setup.disks));
  /** A disk: its base read-only, under an overlay unless the disk is read-only. */
  const openDisk = (spec: DiskOpenSpec): BlockBackend => {
    const r = remote.get(spec.path);
    const base = r ? new HttpRangeDisk(r.url, r.size) : new MemoryBlockBackend(file('disk', spec.path), true);
    if (spec.readOnly) return base;
    const handles = spec.overlay ? opened.get(spec.overlay) : undefined;
    if (spec.overlay) opened.delete(spec.overlay);
    if (spec.overlay && !handles) throw new Error(`overlay ${spec.overlay}: its files were not opened`);
    if (handles instanceof Error) throw handles;
    const store = handles ? new OpfsOverlayStore(handles.data, handles.map, base.size, spec.overlay!) : new MemoryOverlayStore(base.size);
    return new OverlayDisk(base, store);
  };
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
      firmware: cfg.machine.firmware === NO_FIRMWARE ? NO_FIRMWARE : cfg.machine.firmware ? file('firmware', cfg.machine.firmware) : undefined,
    }),
    buildDevices: (m, o) => buildDevices(m, {
      ...o,
      // no host sockets in a tab: a user-mode NIC joins the tab's virtual switch
      userNet: 'switch',
      openDisk,
      diskSize: (path, label) => remote.get(path)?.size ?? file(label, path).length,
      random,
    }),
    random,
    snapshots: new WorkerSnapshots(new FileDigests(files), (path) => {
      const h = snapshotFiles.get(path);
      snapshotFiles.delete(path);
      if (!h) throw new Error(`${path}: its file was not opened`);
      if (h instanceof Error) throw h;
      return h;
    }),
    soon: soonQueue(),
    // a VM's overlays and snapshot file open before the message needing them (OPFS opens asynchronously); a
    // failure is kept for the code that needs the file, which says why
    prepare: (m) => (m.m.t === 'init' || m.m.t === 'snapshot' ? openFiles(m).catch(() => {}) : undefined),
    later: (fn, ms) => void setTimeout(fn, ms),
  };
  return new VmThreadMain(host);
}

let main: VmThreadMain | null = null;
onmessage = (e: MessageEvent<WorkerSetupMessage | ToHost>) => {
  const data = e.data;
  if ('setup' in data) main = start(data.setup);
  else main?.handle(data);
};
