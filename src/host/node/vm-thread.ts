// The Node worker thread that holds VMs for the daemon: the host of hypervisor/vm-slot.ts's VmThreadMain, which
// builds and runs the thread's VMs and answers the manager. This file gives it what is Node's: the thread's
// setup (its JIT mode) and warm-up, the boot images and disks as confined files, snapshot files, random bytes,
// the event loop's timers, the garbage collector serve grants its workers, and the port to the manager.
import { parentPort } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { bootFile } from './boot-file.js';
import { buildDevices, openNetSockets } from './machine.js';
import type { NetBackend } from '../../core/virtio/net/backend.js';
import type { MachineDescription } from '../../hypervisor/machine.js';
import type { BootFile } from '../../core/machine/boot-file.js';
import type { FromHost, ToHost, VmThreadConfig } from '../../hypervisor/protocol.js';
import { workerSetup } from './worker-setup.js';
import { warmUp } from '../../core/machine/warmup.js';
import { checkSnapshotFiles, readSnapshot, SnapshotRefused, writeSnapshot } from './snapshot-file.js';
import { VmThreadMain, type SnapshotFiles } from '../../hypervisor/vm-slot.js';

const port = parentPort;
if (!port) throw new Error('vm-thread runs as a worker thread');

/** How this thread's harts translate guest code (serve --jit or $TVISOR_JIT, for every VM of the daemon). */
const { jit } = workerSetup();
// before the first VM: V8 optimizes the interpreter with feedback from every case (core/machine/warmup.ts);
// held for the thread's life
const warmed = warmUp(jit);
void warmed;

/**
 * The images as files the VM reads straight into guest RAM (at its first boot, and again at a reboot), opened
 * confined to the allowed directories each time (a FIFO or a symlink swapped in is refused, not waited on).
 */
function loadImages(cfg: VmThreadConfig): { kernel: BootFile; initrd?: BootFile; firmware?: BootFile } {
  const { allowedDirs, machine: m } = cfg;
  return {
    kernel: bootFile(m.kernel, { label: 'kernel', allowedDirs }),
    initrd: m.initrd ? bootFile(m.initrd, { label: 'initrd', allowedDirs }) : undefined,
    firmware: m.firmware ? bootFile(m.firmware, { label: 'firmware', allowedDirs }) : undefined,
  };
}

/** Snapshot files as `tvisor run` writes and reads them too (snapshot-file.ts). */
const snapshots: SnapshotFiles = {
  read: (path, machine, fresh, allowedDirs) => {
    const { meta, contents } = readSnapshot(path, allowedDirs);
    checkSnapshotFiles(meta, machine, fresh);
    const screen = meta.console ? new Uint8Array(Buffer.from(meta.console, 'base64')) : undefined;
    return { contents, state: meta.state, console: screen };
  },
  write: writeSnapshot,
  refused: (e) => e instanceof SnapshotRefused,
};

/** serve exposes a `gc()` to the workers it makes (cli/serve.ts spawnWorker); a test's own Worker may have none. */
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * The user-mode NICs (a passt each) of machines about to be built, opened before their 'init' is handled: they
 * open asynchronously, the machine is built synchronously.
 */
const opened = new WeakMap<MachineDescription, Map<number, NetBackend>>();

const main = new VmThreadMain({
  jit,
  post: (m: FromHost, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []),
  loadImages,
  buildDevices: (m, o) => buildDevices(m, { ...o, sockets: opened.get(m) }),
  random: (n) => new Uint8Array(randomBytes(n)),
  soon: (fn) => setImmediate(fn),
  later: (fn, ms) => setTimeout(fn, ms),
  snapshots,
  gc,
});

/**
 * Messages are handled in order, at once; an init whose machine has user-mode NICs waits for their passt, and
 * what comes after it waits in turn (only then do messages go through a chain of promises).
 */
let chain: Promise<void> | null = null;
let queued = 0;
const later = (f: () => void | Promise<void>) => {
  queued++;
  chain = (chain ?? Promise.resolve()).then(f).finally(() => {
    if (--queued === 0) chain = null;
  });
};
port.on('message', (msg: ToHost) => {
  const m = msg.m;
  const user = m.t === 'init' && m.config.machine.devices.some((d) => d.kind === 'net' && d.backend.kind === 'user');
  if (!user) {
    if (chain) later(() => main.handle(msg));
    else main.handle(msg);
    return;
  }
  later(async () => {
    const machine = (m as Extract<typeof m, { t: 'init' }>).config.machine;
    try {
      opened.set(machine, await openNetSockets(machine, (line) => port.postMessage({ ch: msg.ch, m: { t: 'device-event', device: 'net', reason: line, internal: false } } satisfies FromHost)));
    } catch (e) {
      port.postMessage({ ch: msg.ch, m: { t: 'init-error', message: (e as Error).message } } satisfies FromHost);
      return;
    }
    main.handle(msg);
  });
});
