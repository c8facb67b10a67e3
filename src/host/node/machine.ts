// A machine's devices with their Node backends: hypervisor/devices.ts builds them (the one place `tvisor run`
// and the daemon's VM threads make devices), given Node's disk images (block-file.ts), file sizes and random
// bytes here. Network sockets are opened first (openNetSockets, asynchronous); everything else is synchronous,
// so a VM thread can build its machine in one turn of its event loop.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { NetBackend } from '../../core/virtio/net/backend.js';
import type { MachineDescription, NetDescription } from '../../hypervisor/machine.js';
import { buildDevices as buildWith, type DeviceOptions, type MachineDevices } from '../../hypervisor/devices.js';
import { DiskError, openDiskImage } from './block-file.js';
import { connectSocketBackend, listenSocketBackend } from './net-socket.js';
import { startPasst } from './passt.js';

export type { DeviceHost, DeviceOptions, DiskOpenSpec, MachineDevices } from '../../hypervisor/devices.js';

/**
 * Opens the description's socket NICs (listening ones wait for their peer) and user-mode ones (a passt each);
 * closes them all on a failure.
 */
export async function openNetSockets(m: MachineDescription, warn: (line: string) => void): Promise<Map<number, NetBackend>> {
  const opened = new Map<number, NetBackend>();
  try {
    for (const [i, n] of nets(m)) {
      const b = n.backend;
      if (b.kind === 'user') opened.set(i, await startPasst(b.forwards, { warn }));
      if (b.kind !== 'socket') continue;
      opened.set(i, b.mode === 'listen'
        ? await listenSocketBackend(b.host, b.port, { onWarning: warn })
        : await connectSocketBackend(b.host, b.port, { retryMs: 10_000, onWarning: warn }));
    }
    return opened;
  } catch (e) {
    for (const s of opened.values()) s.close();
    throw e;
  }
}

/** The NIC descriptions with their NIC index (eth0, eth1, … in slot order). */
function nets(m: MachineDescription): [number, NetDescription][] {
  return m.devices.filter((d): d is NetDescription => d.kind === 'net').map((d, i) => [i, d]);
}

/**
 * Makes the description's devices; opens the disk images. On a failure, closes what it opened (and the sockets
 * it was given) and throws: a DiskError for an image, an Error naming the device otherwise.
 */
export function buildDevices(m: MachineDescription, host: DeviceOptions): MachineDevices {
  return buildWith(m, {
    ...host,
    openDisk: openDiskImage,
    diskSize: imageSize,
    random: (n) => new Uint8Array(randomBytes(n)),
    diskError: (message) => new DiskError(message),
  });
}

/** A disk's size as its image file has it now (an overlay's disk has its base's size), without opening it. */
function imageSize(path: string, label: string): number {
  try {
    return statSync(path).size;
  } catch (e) {
    throw new DiskError(`${label}: cannot read ${path}: ${(e as Error).message}`);
  }
}
