// The virtio devices of `tvisor run`: parses --disk, --net, --console, --rng and --balloon and builds the
// devices with their Node backends, in slot order (disks first, so the first --disk is vda).
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { VirtioDevice } from '../core/virtio/mmio.js';
import { VirtioBlk } from '../core/virtio/blk/blk.js';
import { VirtioNet, macFromName, parseMac } from '../core/virtio/net/net.js';
import { VirtioConsole } from '../core/virtio/console/console.js';
import { VirtioRng } from '../core/virtio/rng/rng.js';
import { VirtioBalloon } from '../core/virtio/balloon/balloon.js';
import type { BlockBackend } from '../core/virtio/blk/backend.js';
import type { NetBackend } from '../core/virtio/net/backend.js';
import { openDiskImage, DiskError, type DiskSpec } from '../host/node/block-file.js';
import { connectSocketBackend, listenSocketBackend, parseNetSpec, NetError } from '../host/node/net-socket.js';
import { RAM_BASE } from '../core/machine/board.js';
import { InputError, UsageError } from './args.js';

export interface DiskOption extends DiskSpec {
  serial?: string;
}

/** Parses `PATH[,readonly][,overlay=PATH][,serial=ID]`. */
export function parseDiskOption(text: string): DiskOption {
  const [path, ...rest] = text.split(',');
  if (!path) throw new UsageError(`--disk '${text}': the image path comes first`, 'run');
  const spec: DiskOption = { path };
  for (const part of rest) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    if (key === 'readonly' && value === undefined) spec.readOnly = true;
    else if (key === 'overlay' && value) spec.overlay = value;
    else if (key === 'serial' && value !== undefined) {
      if (value.length > 20 || !/^[\x20-\x7e]*$/.test(value)) throw new UsageError(`--disk serial '${value}' must be at most 20 printable ASCII characters`, 'run');
      spec.serial = value;
    } else {
      throw new UsageError(`--disk '${text}': unknown setting '${part}' (expected readonly, overlay=PATH or serial=ID)`, 'run');
    }
  }
  if (spec.readOnly && spec.overlay) throw new UsageError(`--disk '${text}': readonly and overlay= exclude each other (an overlay takes the writes)`, 'run');
  return spec;
}

export interface DeviceOptions {
  /** The VM's name; network MACs are derived from it when not given. */
  name: string;
  memory: number;
  disks: string[];
  nets: string[];
  virtioConsole: boolean;
  consoleOutput: (bytes: Uint8Array) => void;
  rng: boolean;
  /** Bytes the balloon should take back at start; undefined = no balloon device. */
  balloon?: number;
  warn: (line: string) => void;
}

export interface RunDevices {
  devices: VirtioDevice[];
  console: VirtioConsole | null;
  balloon: VirtioBalloon | null;
  /** Releases disks (locks, fsync) and sockets. */
  close(): void;
}

/** Opens every backend; on any failure, closes what was opened and throws a one-line InputError. */
export async function createRunDevices(o: DeviceOptions): Promise<RunDevices> {
  const disks = o.disks.map(parseDiskOption);
  const nets = o.nets.map((text) => {
    try {
      return parseNetSpec(text);
    } catch (e) {
      if (e instanceof NetError) throw new UsageError(e.message, 'run');
      throw e;
    }
  });
  const opened: { close(): void }[] = [];
  const close = () => {
    for (const b of opened.reverse()) {
      try {
        b.close();
      } catch (e) {
        o.warn(`tvisor: closing a device: ${(e as Error).message}`);
      }
    }
    opened.length = 0;
  };
  const devices: VirtioDevice[] = [];
  try {
    disks.forEach((spec, i) => {
      let backend: BlockBackend;
      try {
        backend = openDiskImage(spec);
      } catch (e) {
        if (e instanceof DiskError) throw new InputError(e.message);
        throw e;
      }
      opened.push(backend);
      const vd = `vd${String.fromCharCode(97 + i)}`;
      devices.push(new VirtioBlk({ backend, serial: spec.serial ?? basename(spec.path).slice(0, 20), name: `virtio-blk ${vd}` }));
    });
    for (let i = 0; i < nets.length; i++) {
      const spec = nets[i];
      let backend: NetBackend;
      try {
        backend = spec.mode === 'listen'
          ? await listenSocketBackend(spec.host, spec.port, { onWarning: o.warn })
          : await connectSocketBackend(spec.host, spec.port, { retryMs: 10_000, onWarning: o.warn });
      } catch (e) {
        if (e instanceof NetError) throw new InputError(e.message);
        throw e;
      }
      opened.push(backend);
      const mac = spec.mac ? parseMac(spec.mac) : macFromName(`${o.name}/${spec.mode}/${spec.host}:${spec.port}/${i}`);
      devices.push(new VirtioNet({ mac, backend, name: `virtio-net eth${i}` }));
    }
    const console = o.virtioConsole ? new VirtioConsole(o.consoleOutput, terminalSize()) : null;
    if (console) devices.push(console);
    if (o.rng) devices.push(new VirtioRng((n) => new Uint8Array(randomBytes(n))));
    let balloon: VirtioBalloon | null = null;
    if (o.balloon !== undefined) {
      balloon = new VirtioBalloon({ ramBase: RAM_BASE, ramSize: o.memory });
      balloon.setTarget(o.balloon);
      devices.push(balloon);
    }
    return { devices, console, balloon, close };
  } catch (e) {
    close();
    throw e;
  }
}

function terminalSize(): { cols: number; rows: number } {
  const out = process.stdout;
  return out.isTTY ? { cols: out.columns, rows: out.rows } : { cols: 80, rows: 25 };
}
