// Builds a machine's virtio devices from its description (machine.ts): the one place `tvisor run` and the
// daemon's VM threads make devices, so both get the same machine from the same description. Host-neutral: what
// only a host can do (open a disk image, size one, draw random bytes) it gives in a DeviceHost, and network
// sockets come opened (host/node/machine.ts openNetSockets). Everything here is synchronous, so a VM thread
// can build its machine in one turn of its event loop.
import type { VirtioDevice } from '../core/virtio/mmio.js';
import { VirtioBlk } from '../core/virtio/blk/blk.js';
import { VirtioNet, parseMac } from '../core/virtio/net/net.js';
import { VirtioConsole } from '../core/virtio/console/console.js';
import { VirtioRng } from '../core/virtio/rng/rng.js';
import { VirtioBalloon } from '../core/virtio/balloon/balloon.js';
import { DeferredBlockBackend, type BlockBackend } from '../core/virtio/blk/backend.js';
import type { NetBackend } from '../core/virtio/net/backend.js';
import { RAM_BASE } from '../core/machine/board.js';
import { applyLimiterConfig, type RateLimiter } from './rate-limiter.js';
import { diskName, type MachineDescription } from './machine.js';

/** A disk image to open, as buildDevices asks the host for it (host/node/block-file.ts DiskSpec is this). */
export interface DiskOpenSpec {
  path: string;
  readOnly?: boolean;
  /** Copy-on-write file taking the guest's writes; the image at `path` is then never modified. */
  overlay?: string;
  /** Directories image and overlay must lie beneath (Node: confined-open.ts); absent: anywhere (tvisor run). */
  allowedDirs?: readonly string[];
  /** Who opens it, e.g. "VM 1a2b (web)": written into the lock so that a refused writer learns the holder. */
  owner?: string;
}

/** What the user of a machine gives its devices at run time. */
export interface DeviceOptions {
  /** The clock the rate limiters run on, in ms (the VM's: their times must agree with the devices'). */
  nowMs(): number;
  /** Output of the virtio console (a description with one needs it). */
  consoleOutput?: (bytes: Uint8Array) => void;
  /** The virtio console's size in characters. */
  consoleSize?: { cols: number; rows: number };
  /** The backend of NIC `index` whose description says `switch` (the daemon's virtual switch port). */
  switchPort?: (index: number) => NetBackend;
  /** Backends the host opened for the description's socket NICs, by NIC index. */
  sockets?: Map<number, NetBackend>;
  /**
   * 'switch': this host has no user-mode networking (a browser tab cannot open the host's sockets), so a NIC
   * whose description says `user` joins the virtual switch instead, as the switch's other VMs see it.
   */
  userNet?: 'switch';
  /** Directories every disk image and overlay must lie beneath (the daemon's --allow-dir). */
  allowedDirs?: string[];
  /**
   * The disks are opened later, by openDisks() (a guest arriving by live migration: the VM it leaves holds them
   * until the switch); until then they have the size their image has now.
   */
  deferDisks?: boolean;
}

/** What the host gives the devices: the options, and what only the host can do. */
export interface DeviceHost extends DeviceOptions {
  /** Opens a disk image (and takes its lock); throws the host's disk error (see diskError) when it cannot. */
  openDisk(spec: DiskOpenSpec): BlockBackend;
  /** A disk's size as its image file has it now (an overlay's disk has its base's size), without opening it. */
  diskSize(path: string, label: string): number;
  /** `n` random bytes, for the virtio-rng. */
  random(n: number): Uint8Array;
  /** The error a disk that cannot be attached throws (Node: DiskError, which callers tell apart); absent: Error. */
  diskError?(message: string): Error;
}

/** A machine's devices and the handles the host keeps to them. */
export interface MachineDevices {
  /** In slot order, for the Vm. */
  devices: VirtioDevice[];
  disks: VirtioBlk[];
  nics: VirtioNet[];
  console: VirtioConsole | null;
  balloon: VirtioBalloon | null;
  /** Each disk's limiter, and each NIC's per direction (null: unlimited), to be reconfigured live. */
  diskLimiters: (RateLimiter | null)[];
  nicLimiters: { tx: RateLimiter | null; rx: RateLimiter | null }[];
  /**
   * Opens the disks a `deferDisks` build left closed, their lock files naming `owner` (DiskOpenSpec.owner); a
   * disk whose size changed meanwhile is refused. On a failure closes what it opened and throws (the host's disk
   * error for an image: DeviceHost.diskError).
   */
  openDisks(owner?: string): void;
  /** Makes every disk's completed writes durable (overlays write their bitmaps too); throws BlockIoError. */
  flushDisks(): void;
  /** Closes every backend (disk locks and files, sockets); errors go to `warn`, the rest still close. */
  close(warn?: (line: string) => void): void;
}

/**
 * Makes the description's devices; opens the disk images. On a failure, closes what it opened (and the sockets
 * it was given) and throws: the host's disk error for an image, an Error naming the device otherwise.
 */
export function buildDevices(m: MachineDescription, host: DeviceHost): MachineDevices {
  const backends: { close(): void }[] = [...(host.sockets?.values() ?? [])];
  const diskBackends: BlockBackend[] = [];
  const deferred: { backend: DeferredBlockBackend; spec: DiskOpenSpec }[] = [];
  const out: MachineDevices = {
    devices: [], disks: [], nics: [], console: null, balloon: null, diskLimiters: [], nicLimiters: [],
    openDisks: (owner) => {
      try {
        for (const { backend, spec } of deferred) {
          const b = host.openDisk(owner === undefined ? spec : { ...spec, owner });
          try {
            backend.attach(b);
          } catch (e) {
            b.close();
            const message = (e as Error).message;
            throw host.diskError ? host.diskError(message) : new Error(message);
          }
        }
      } catch (e) {
        // the ones attached close (and are detached) again
        for (const { backend } of deferred) backend.close();
        throw e;
      }
    },
    flushDisks: () => {
      for (const b of diskBackends) if (!b.readOnly) b.flush();
    },
    close: (warn) => {
      for (const b of backends.splice(0).reverse()) {
        try {
          b.close();
        } catch (e) {
          warn?.(`tvisor: closing a device: ${(e as Error).message}`);
        }
      }
    },
  };
  try {
    for (const d of m.devices) {
      switch (d.kind) {
        case 'block': {
          const i = out.disks.length;
          const spec: DiskOpenSpec = { path: d.path, readOnly: d.readOnly, overlay: d.overlay, owner: d.owner, allowedDirs: host.allowedDirs };
          let backend: BlockBackend;
          if (host.deferDisks) {
            const later = new DeferredBlockBackend(host.diskSize(d.path, `virtio-blk ${diskName(i)}`), d.readOnly ?? false, `virtio-blk ${diskName(i)} (${d.path})`);
            deferred.push({ backend: later, spec });
            backend = later;
          } else backend = host.openDisk(spec);
          backends.push(backend);
          diskBackends.push(backend);
          const limiter = applyLimiterConfig(null, d.rateLimiter ?? null, host.nowMs());
          const dev = new VirtioBlk({
            backend, serial: d.serial ?? baseName(d.path).slice(0, 20), name: `virtio-blk ${diskName(i)}`, limiter: limiter ?? undefined,
          });
          out.diskLimiters.push(limiter);
          out.disks.push(dev);
          out.devices.push(dev);
          break;
        }
        case 'net': {
          const i = out.nics.length;
          const onSwitch = d.backend.kind === 'switch' || (d.backend.kind === 'user' && host.userNet === 'switch');
          const backend = onSwitch ? host.switchPort?.(i) : host.sockets?.get(i);
          if (!backend) throw new Error(`virtio-net eth${i}: no ${d.backend.kind} backend for it here`);
          const limiters = { tx: applyLimiterConfig(null, d.rateLimiter ?? null, host.nowMs()), rx: applyLimiterConfig(null, d.rateLimiter ?? null, host.nowMs()) };
          const dev = new VirtioNet({
            mac: parseMac(d.mac), backend, name: `virtio-net eth${i}`, txLimiter: limiters.tx ?? undefined, rxLimiter: limiters.rx ?? undefined,
          });
          out.nicLimiters.push(limiters);
          out.nics.push(dev);
          out.devices.push(dev);
          break;
        }
        case 'console': {
          if (!host.consoleOutput) throw new Error('virtio-console: this host gives it no output');
          out.console = new VirtioConsole(host.consoleOutput, host.consoleSize ?? { cols: 80, rows: 25 });
          out.devices.push(out.console);
          break;
        }
        case 'rng':
          out.devices.push(new VirtioRng((n) => host.random(n)));
          break;
        case 'balloon':
          out.balloon = new VirtioBalloon({ ramBase: RAM_BASE, ramSize: m.memoryBytes });
          out.balloon.setTarget(d.targetBytes);
          out.devices.push(out.balloon);
          break;
      }
    }
    return out;
  } catch (e) {
    out.close();
    throw e;
  }
}

/** The last name of a '/'-separated path, as POSIX basename has it (trailing slashes ignored): a disk's serial. */
export function baseName(path: string): string {
  const names = path.split('/').filter((n) => n !== '');
  return names.length > 0 ? names[names.length - 1] : '';
}
