// The Node worker thread that holds VMs for the daemon: the host of hypervisor/vm-slot.ts's VmThreadMain, which
// builds and runs the thread's VMs and answers the manager. This file gives it what is Node's: the thread's
// setup (its JIT mode) and warm-up, the boot images and disks as confined files, snapshot files, random bytes,
// the event loop's timers, the garbage collector serve grants its workers, and the port to the manager.
import { parentPort } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { bootFile } from './boot-file.js';
import { buildDevices, openNetSockets } from './machine.js';
import type { NetBackend } from '../../core/virtio/net/backend.js';
import { NO_FIRMWARE, type MachineDescription } from '../../hypervisor/machine.js';
import type { BootFile } from '../../core/machine/boot-file.js';
import type { FromHost, ToHost, VmThreadConfig } from '../../hypervisor/protocol.js';
import { workerSetup } from './worker-setup.js';
import { warmUp } from '../../core/machine/warmup.js';
import { checkSnapshotFiles, readSnapshot, SnapshotRefused, writeSnapshot } from './snapshot-file.js';
import { VmThreadMain, type FlashBanks, type SnapshotFiles } from '../../hypervisor/vm-slot.js';
import { openFlashVars, readFlashImage } from './flash-file.js';
import { FLASH_BANK_SIZE } from '../../core/devices/cfi-flash.js';

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
function loadImages(cfg: VmThreadConfig): { kernel: BootFile | Uint8Array; initrd?: BootFile; firmware?: BootFile | 'none' } {
  const { allowedDirs, machine: m } = cfg;
  return {
    // none with flash: the firmware's next stage is flash bank 0
    kernel: m.kernel === '' ? new Uint8Array(0) : bootFile(m.kernel, { label: 'kernel', allowedDirs }),
    initrd: m.initrd ? bootFile(m.initrd, { label: 'initrd', allowedDirs }) : undefined,
    firmware: m.firmware === NO_FIRMWARE ? NO_FIRMWARE : m.firmware ? bootFile(m.firmware, { label: 'firmware', allowedDirs }) : undefined,
  };
}

/** The flash banks' files, opened confined to the allowed directories (flash-file.ts). */
function loadFlash(cfg: VmThreadConfig): FlashBanks {
  const { allowedDirs, machine: m } = cfg;
  const code = readFlashImage(m.flash!.image, FLASH_BANK_SIZE, allowedDirs);
  const vars = m.flash!.vars !== undefined ? openFlashVars(m.flash!.vars, FLASH_BANK_SIZE, allowedDirs) : undefined;
  return { code, ...(vars ? { vars } : {}), close: () => vars?.close() };
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

/** The user-mode NICs (a passt each) of machines about to be built, opened by `prepare` before their 'init'. */
const opened = new WeakMap<MachineDescription, Map<number, NetBackend>>();

const main = new VmThreadMain({
  jit,
  post: (m: FromHost, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []),
  loadImages,
  loadFlash,
  buildDevices: (m, o) => buildDevices(m, { ...o, sockets: opened.get(m) }),
  random: (n) => new Uint8Array(randomBytes(n)),
  soon: (fn) => setImmediate(fn),
  later: (fn, ms) => setTimeout(fn, ms),
  snapshots,
  gc,
  // a machine's user-mode NICs (a passt each) open before it is built: asynchronously, and it is built at once
  prepare: ({ ch, m }) => {
    if (m.t !== 'init' || !m.config.machine.devices.some((d) => d.kind === 'net' && d.backend.kind === 'user')) return undefined;
    const machine = m.config.machine;
    const warn = (line: string) => port.postMessage({ ch, m: { t: 'device-event', device: 'net', reason: line, internal: false } } satisfies FromHost);
    return openNetSockets(machine, warn).then((sockets) => void opened.set(machine, sockets));
  },
});

port.on('message', (msg: ToHost) => main.handle(msg));
