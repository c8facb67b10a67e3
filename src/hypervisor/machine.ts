// A VM as plain data: the one description both `tvisor run` and the daemon's VM threads build a machine from
// (devices.ts makes its devices, src/host/node/machine.ts gives them their Node backends), and the thing a
// snapshot records. It names files and settings, never open handles; what a host gives at run time (the
// console's output, the virtual switch's port) is asked for by the builder.
import { limiterConfigFromApi, limiterConfigToApi, type RateLimiterConfig } from './rate-limiter.js';
import type { VmSpec } from './model.js';

export interface MachineDescription {
  /** The VM's name (network MACs and disk serials may be derived from it). */
  name: string;
  /** Guest RAM in bytes. */
  memoryBytes: number;
  vcpus: number;
  /**
   * Boot images: paths of a RISC-V Linux Image (or ELF kernel), an initramfs, M-mode firmware. Firmware
   * NO_FIRMWARE ('none', as QEMU's -bios none) names no file: the kernel itself starts in M-mode on every hart.
   * The kernel is '' (none) only with `flash`.
   */
  kernel: string;
  initrd?: string;
  firmware?: string;
  /**
   * CFI flash banks (QEMU virt's pflash): `image` is bank 0 (read-only, run in place: EDK2's code), `vars` bank
   * 1 (written back as the guest changes it: EDK2's variable store). With flash, `kernel` may be '' (none): the
   * firmware's next stage is bank 0.
   */
  flash?: { image: string; vars?: string };
  cmdline: string;
  /** The virtio devices in slot order (the guest names disks vda, vdb, … in this order). */
  devices: DeviceDescription[];
}

/** A virtio disk on an image file; writes go to `overlay` when given. */
export interface BlockDescription {
  kind: 'block';
  path: string;
  readOnly?: boolean;
  overlay?: string;
  /** virtio-blk serial (at most 20 printable ASCII characters); default: the image's file name. */
  serial?: string;
  /** Who holds the disk, written into its lock files (the daemon: "VM 1a2b (web)"), so a refused writer learns it. */
  owner?: string;
  rateLimiter?: RateLimiterConfig;
}

/** A virtio NIC; `rateLimiter` gives each direction (sent frames, delivered frames) its own buckets. */
export interface NetDescription {
  kind: 'net';
  /** xx:xx:xx:xx:xx:xx */
  mac: string;
  backend: NetBackendDescription;
  rateLimiter?: RateLimiterConfig;
}

export type NetBackendDescription =
  /** A port on the daemon's virtual switch (its frames travel through the host). */
  | { kind: 'switch' }
  /** A TCP stream of length-prefixed frames (QEMU's -netdev socket): listening, or connecting to a peer. */
  | { kind: 'socket'; mode: 'listen' | 'connect'; host: string; port: number }
  /** User-mode networking to the host's network (QEMU's -netdev user; passt on Node), with host ports forwarded in. */
  | { kind: 'user'; forwards: PortForward[] };

/** A host port forwarded into the guest (QEMU's hostfwd=tcp:HOSTADDR:PORT-:GUESTPORT). */
export interface PortForward {
  proto: 'tcp' | 'udp';
  /** The host address to listen on (127.0.0.1 unless given: this machine only). */
  hostAddr: string;
  hostPort: number;
  guestPort: number;
}

export type DeviceDescription =
  | BlockDescription
  | NetDescription
  /** A virtio console (hvc0) beside the UART. */
  | { kind: 'console' }
  /** A virtio entropy source fed from the host's random generator. */
  | { kind: 'rng' }
  /** A virtio balloon asked at start to take back `targetBytes` of guest RAM. */
  | { kind: 'balloon'; targetBytes: number };

/** The guest's name for the i-th disk, as Linux's virtio_blk names them: vda … vdz, vdaa, vdab, … */
export function diskName(i: number): string {
  let letters = '';
  for (let n = i; n >= 0; n = Math.floor(n / 26) - 1) letters = String.fromCharCode(97 + (n % 26)) + letters;
  return `vd${letters}`;
}

/** The firmware value that names no file: every hart starts the kernel itself in M-mode (QEMU's -bios none). */
export const NO_FIRMWARE = 'none';

/** The firmware file a machine or spec names, if any ('none' names none). */
export function firmwareFile(firmware: string | undefined): string | undefined {
  return firmware === NO_FIRMWARE ? undefined : firmware;
}

/** Every file a machine uses, with what it is: boot images, disk images and their overlays. */
export function machineFiles(m: MachineDescription): { path: string; what: string }[] {
  const files = m.kernel === '' ? [] : [{ path: m.kernel, what: 'kernel' }];
  if (m.initrd !== undefined) files.push({ path: m.initrd, what: 'initrd' });
  const fw = firmwareFile(m.firmware);
  if (fw !== undefined) files.push({ path: fw, what: 'firmware' });
  if (m.flash) files.push({ path: m.flash.image, what: 'flash image' });
  if (m.flash?.vars !== undefined) files.push({ path: m.flash.vars, what: 'flash variable store' });
  m.devices.filter((d): d is BlockDescription => d.kind === 'block').forEach((d, i) => {
    files.push({ path: d.path, what: `disk ${diskName(i)}` });
    if (d.overlay !== undefined) files.push({ path: d.overlay, what: `disk ${diskName(i)}'s overlay` });
  });
  return files;
}

/**
 * The daemon's definition of a VM restored from a snapshot whose machine is `m` (named `name`): what it shows,
 * and what a later cold start boots. Its NICs become ports of the virtual switch; a virtio console has no
 * place in a definition (the restore itself builds the machine as saved).
 */
export function specFromMachine(m: MachineDescription, name: string, settings: { weight: number; cap: number }): VmSpec {
  const spec: VmSpec = {
    name, vcpus: m.vcpus, memory_mib: Math.floor(m.memoryBytes / 2 ** 20), cmdline: m.cmdline,
    disks: [], nics: [], weight: settings.weight, cap: settings.cap,
  };
  if (m.kernel !== '') spec.kernel = m.kernel;
  if (m.flash) spec.flash = { ...m.flash };
  if (m.initrd !== undefined) spec.initrd = m.initrd;
  if (m.firmware !== undefined) spec.firmware = m.firmware;
  for (const d of m.devices) {
    if (d.kind === 'block') {
      spec.disks.push({
        path: d.path, readonly: d.readOnly === true, ...(d.overlay !== undefined ? { overlay: d.overlay } : {}),
        ...(d.rateLimiter ? { rate_limiter: limiterConfigToApi(d.rateLimiter) } : {}),
      });
    } else if (d.kind === 'net') {
      spec.nics.push({
        mac: d.mac, ...(d.rateLimiter ? { rate_limiter: limiterConfigToApi(d.rateLimiter) } : {}),
        ...(d.backend.kind === 'user' ? {
          mode: 'user' as const,
          forwards: d.backend.forwards.map((f) => ({ proto: f.proto, host_addr: f.hostAddr, host_port: f.hostPort, guest_port: f.guestPort })),
        } : {}),
      });
    }
  }
  return spec;
}

/**
 * The machine the daemon builds from a definition: its disks (locked in `owner`'s name, with serials NAME-vdX)
 * and NICs (ports on the virtual switch, or user-mode networking, with `macs`), and always an rng and a balloon
 * asked for `balloonBytes`.
 */
export function machineFromSpec(s: VmSpec, o: { macs: string[]; owner: string; balloonBytes: number; defaultCmdline: string }): MachineDescription {
  const devices: DeviceDescription[] = [
    ...s.disks.map((d, i): DeviceDescription => ({
      kind: 'block', path: d.path, serial: `${s.name}-${diskName(i)}`.slice(0, 20), owner: o.owner,
      ...(d.readonly ? { readOnly: true } : {}), ...(d.overlay ? { overlay: d.overlay } : {}),
      ...(d.rate_limiter ? { rateLimiter: limiterConfigFromApi(d.rate_limiter) ?? undefined } : {}),
    })),
    ...s.nics.map((n, i): DeviceDescription => ({
      kind: 'net', mac: o.macs[i],
      backend: n.mode === 'user'
        ? { kind: 'user', forwards: (n.forwards ?? []).map((f) => ({ proto: f.proto, hostAddr: f.host_addr, hostPort: f.host_port, guestPort: f.guest_port })) }
        : { kind: 'switch' },
      ...(n.rate_limiter ? { rateLimiter: limiterConfigFromApi(n.rate_limiter) ?? undefined } : {}),
    })),
    { kind: 'rng' },
    { kind: 'balloon', targetBytes: o.balloonBytes },
  ];
  return {
    name: s.name, memoryBytes: s.memory_mib * 2 ** 20, vcpus: s.vcpus, kernel: s.kernel ?? '', cmdline: s.cmdline ?? o.defaultCmdline,
    ...(s.flash ? { flash: { ...s.flash } } : {}),
    ...(s.initrd ? { initrd: s.initrd } : {}), ...(s.firmware ? { firmware: s.firmware } : {}), devices,
  };
}

/**
 * A snapshot's machine as the daemon runs it: its disks locked in `owner`'s name, its socket NICs ports of the
 * virtual switch (a machine saved by `tvisor run` may have had sockets; user-mode NICs stay so); devices, slots
 * and settings as saved.
 */
export function restoredMachine(m: MachineDescription, owner: string): MachineDescription {
  return {
    ...m,
    devices: m.devices.map((d): DeviceDescription => (d.kind === 'block' ? { ...d, owner } : d.kind === 'net' && d.backend.kind === 'socket' ? { ...d, backend: { kind: 'switch' } } : d)),
  };
}
