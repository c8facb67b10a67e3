// The virtio devices of `tvisor run`: parses --disk, --net, --console, --rng and --balloon into the machine
// description's devices (hypervisor/machine.ts), in slot order (disks first, so the first --disk is vda), with
// the rate limits bw=, iops= and pps= as token buckets, and builds them as the daemon does (host/node/machine.ts).
import { basename } from 'node:path';
import type { VirtioDevice } from '../core/virtio/mmio.js';
import { isIP } from 'node:net';
import { macFromName, formatMac, parseMac } from '../core/virtio/net/net.js';
import type { VirtioConsole } from '../core/virtio/console/console.js';
import type { VirtioBalloon } from '../core/virtio/balloon/balloon.js';
import { DiskError, type DiskSpec } from '../host/node/block-file.js';
import { parseNetSpec, NetError } from '../host/node/net-socket.js';
import { monotonicClock } from '../core/host/clock.js';
import type { RateLimiterConfig } from '../hypervisor/rate-limiter.js';
import type { DeviceDescription, MachineDescription, PortForward } from '../hypervisor/machine.js';
import { buildDevices, openNetSockets } from '../host/node/machine.js';
import { InputError, UsageError } from './args.js';

/** Rate limits as the command line gives them: bytes and operations (requests, frames) per second. */
export interface IoLimits {
  bandwidth?: number;
  ops?: number;
}

export interface DiskOption extends DiskSpec {
  serial?: string;
  /** From bw= and iops=. */
  limits?: IoLimits;
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** Parses RATE, bytes per second: a whole number with an optional K, M or G suffix (binary: 10M = 10 MiB/s). */
export function parseRate(text: string, option: string, command: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(text);
  const n = m ? Number(m[1]) * RATE_UNITS[m[2].toLowerCase()] : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${option}'${text}' is not a rate: give bytes per second as a whole number above 0 with an optional K, M or G suffix, e.g. bw=10M`, command);
  }
  return n;
}

/** Parses N, operations per second: a whole number above 0. */
export function parseOpsRate(text: string, option: string, command: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${option}'${text}' must be a whole number of operations per second above 0`, command);
  return n;
}

/**
 * The token buckets bw= and iops=/pps= stand for: each holds one second's worth (so a burst of up to a second
 * passes at once) and refills over 1000 ms; null when there are no limits.
 */
export function limiterConfig(limits: IoLimits | undefined): RateLimiterConfig | null {
  if (!limits || (limits.bandwidth === undefined && limits.ops === undefined)) return null;
  const cfg: RateLimiterConfig = {};
  if (limits.bandwidth !== undefined) cfg.bandwidth = { size: limits.bandwidth, refillTimeMs: 1000 };
  if (limits.ops !== undefined) cfg.ops = { size: limits.ops, refillTimeMs: 1000 };
  return cfg;
}

/** The same limits as the daemon's API writes a `rate_limiter` (for clients that create VMs). */
export function apiRateLimiter(limits: IoLimits | undefined): { bandwidth?: { size: number; refill_time_ms: number }; ops?: { size: number; refill_time_ms: number } } | undefined {
  const cfg = limiterConfig(limits);
  if (!cfg) return undefined;
  const out: ReturnType<typeof apiRateLimiter> = {};
  if (cfg.bandwidth) out.bandwidth = { size: cfg.bandwidth.size, refill_time_ms: cfg.bandwidth.refillTimeMs };
  if (cfg.ops) out.ops = { size: cfg.ops.size, refill_time_ms: cfg.ops.refillTimeMs };
  return out;
}

/**
 * Takes `key=VALUE` rate settings (bw=RATE and `opsKey`=N) out of a comma-separated option; returns the
 * limits and the other parts. A setting given twice is refused.
 */
function takeLimits(parts: string[], optionName: string, text: string, opsKey: 'iops' | 'pps', command: string): { limits?: IoLimits; rest: string[] } {
  const limits: IoLimits = {};
  const rest: string[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || (key !== 'bw' && key !== opsKey)) {
      rest.push(part);
      continue;
    }
    const field = key === 'bw' ? 'bandwidth' : 'ops';
    if (limits[field] !== undefined) throw new UsageError(`${optionName} '${text}': ${key}= given twice`, command);
    const value = part.slice(eq + 1);
    limits[field] = key === 'bw' ? parseRate(value, `${optionName} bw=`, command) : parseOpsRate(value, `${optionName} ${key}=`, command);
  }
  return { limits: limits.bandwidth === undefined && limits.ops === undefined ? undefined : limits, rest };
}

/** Parses `PATH[,readonly][,overlay=PATH][,serial=ID][,bw=RATE][,iops=N]`. */
export function parseDiskOption(text: string, command = 'run'): DiskOption {
  const [path, ...parts] = text.split(',');
  if (!path) throw new UsageError(`--disk '${text}': the image path comes first`, command);
  const spec: DiskOption = { path };
  const { limits, rest } = takeLimits(parts, '--disk', text, 'iops', command);
  if (limits) spec.limits = limits;
  for (const part of rest) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    if (key === 'readonly' && value === undefined) spec.readOnly = true;
    else if (key === 'overlay' && value) spec.overlay = value;
    else if (key === 'serial' && value !== undefined) {
      if (value.length > 20 || !/^[\x20-\x7e]*$/.test(value)) throw new UsageError(`--disk serial '${value}' must be at most 20 printable ASCII characters`, command);
      spec.serial = value;
    } else {
      throw new UsageError(`--disk '${text}': unknown setting '${part}' (expected readonly, overlay=PATH, serial=ID, bw=RATE or iops=N)`, command);
    }
  }
  if (spec.readOnly && spec.overlay) throw new UsageError(`--disk '${text}': readonly and overlay= exclude each other (an overlay takes the writes)`, command);
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
  /** Makes the disks' writes durable (before a snapshot). */
  flushDisks(): void;
  /** Releases disks (locks, fsync) and sockets. */
  close(): void;
}

/**
 * The virtio devices the options ask for, as the machine description holds them, in slot order: disks first
 * (the first --disk is vda), then NICs, the virtio console, rng and the balloon.
 */
export function describeRunDevices(o: Omit<DeviceOptions, 'consoleOutput' | 'warn' | 'memory'>): DeviceDescription[] {
  const devices: DeviceDescription[] = o.disks.map((text) => {
    const spec = parseDiskOption(text);
    const d: DeviceDescription = { kind: 'block', path: spec.path, serial: spec.serial ?? basename(spec.path).slice(0, 20) };
    if (spec.readOnly) d.readOnly = true;
    if (spec.overlay) d.overlay = spec.overlay;
    const limiter = limiterConfig(spec.limits);
    if (limiter) d.rateLimiter = limiter;
    return d;
  });
  o.nets.forEach((text, i) => {
    const [kind, ...parts] = text.split(',');
    const { limits, rest } = takeLimits(parts, '--net', text, 'pps', 'run');
    if (kind === 'user') {
      const user = parseUserNet(text, rest);
      const d: DeviceDescription = {
        kind: 'net', mac: user.mac ?? formatMac(macFromName(`${o.name}/user/${i}`)), backend: { kind: 'user', forwards: user.forwards },
      };
      const limiter = limiterConfig(limits);
      if (limiter) d.rateLimiter = limiter;
      devices.push(d);
      return;
    }
    let spec;
    try {
      spec = parseNetSpec([kind, ...rest].join(','));
    } catch (e) {
      if (e instanceof NetError) throw new UsageError(e.message, 'run');
      throw e;
    }
    const mac = spec.mac ?? formatMac(macFromName(`${o.name}/${spec.mode}/${spec.host}:${spec.port}/${i}`));
    const d: DeviceDescription = { kind: 'net', mac, backend: { kind: 'socket', mode: spec.mode, host: spec.host, port: spec.port } };
    const limiter = limiterConfig(limits);
    if (limiter) d.rateLimiter = limiter; // each direction gets its own buckets: bw=10M is 10 MiB/s out and 10 MiB/s in
    devices.push(d);
  });
  if (o.virtioConsole) devices.push({ kind: 'console' });
  if (o.rng) devices.push({ kind: 'rng' });
  if (o.balloon !== undefined) devices.push({ kind: 'balloon', targetBytes: o.balloon });
  return devices;
}

export const HOSTFWD_HELP = 'hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-:GUESTPORT, e.g. hostfwd=tcp::2222-:22 or hostfwd=tcp:127.0.0.1:8080-:80';

/** One `hostfwd=` value, QEMU's `[tcp|udp]:[HOSTADDR]:HOSTPORT-:GUESTPORT` (the guest address stays empty). */
export function parseHostfwd(value: string, bad: (why: string) => Error): PortForward {
  const m = /^(tcp|udp)?:(\[[0-9A-Fa-f:.]+\]|[0-9.]*):(\d{1,5})-:(\d{1,5})$/.exec(value);
  if (!m) throw bad(`'hostfwd=${value}' is not ${HOSTFWD_HELP}`);
  const [hostPort, guestPort] = [Number(m[3]), Number(m[4])];
  if (hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) throw bad(`'hostfwd=${value}': ports are 1 to 65535`);
  const hostAddr = m[2] === '' ? '127.0.0.1' : m[2].replace(/^\[|\]$/g, '');
  if (!isIP(hostAddr)) throw bad(`'hostfwd=${value}': '${m[2]}' is not an IP address`);
  return { proto: (m[1] ?? 'tcp') as 'tcp' | 'udp', hostAddr, hostPort, guestPort };
}

/** The settings of `--net user[,hostfwd=…]…[,mac=MAC]` (bw= and pps= already taken out). */
export function parseUserNet(text: string, parts: string[], command = 'run'): { forwards: PortForward[]; mac?: string } {
  const bad = (why: string) => new UsageError(`--net '${text}': ${why}`, command);
  const out: { forwards: PortForward[]; mac?: string } = { forwards: [] };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (key === 'mac' && eq > 0 && out.mac === undefined) {
      try {
        out.mac = formatMac(parseMac(value));
      } catch (e) {
        throw bad((e as Error).message);
      }
    } else if (key === 'hostfwd' && eq > 0) {
      const f = parseHostfwd(value, bad);
      if (out.forwards.some((g) => g.proto === f.proto && g.hostPort === f.hostPort && g.hostAddr === f.hostAddr)) throw bad(`${f.proto} port ${f.hostPort} is forwarded twice`);
      out.forwards.push(f);
    } else {
      throw bad(`unknown or repeated setting '${part}' (expected ${HOSTFWD_HELP}, mac=MAC, bw=RATE, pps=N)`);
    }
  }
  return out;
}

/** Opens every backend; on any failure, closes what was opened and throws a one-line InputError. */
export async function createRunDevices(o: DeviceOptions): Promise<RunDevices> {
  const machine: MachineDescription = {
    name: o.name, memoryBytes: o.memory, vcpus: 1, kernel: '', cmdline: '', devices: describeRunDevices(o),
  };
  return openRunDevices(machine, o.consoleOutput, o.warn);
}

/** The devices of a machine description, with their backends (as createRunDevices). */
export async function openRunDevices(machine: MachineDescription, consoleOutput: (b: Uint8Array) => void, warn: (line: string) => void): Promise<RunDevices> {
  const o = { consoleOutput, warn };
  try {
    const sockets = await openNetSockets(machine, o.warn);
    // tvisor run gives the VM no clock of its own: the limiters run on the default one
    const clock = monotonicClock();
    const built = buildDevices(machine, { nowMs: () => clock.nowNs() / 1e6, consoleOutput: o.consoleOutput, consoleSize: terminalSize(), sockets });
    return { devices: built.devices, console: built.console, balloon: built.balloon, flushDisks: built.flushDisks, close: () => built.close(o.warn) };
  } catch (e) {
    if (e instanceof DiskError || e instanceof NetError) throw new InputError(e.message);
    throw e;
  }
}

function terminalSize(): { cols: number; rows: number } {
  const out = process.stdout;
  return out.isTTY ? { cols: out.columns, rows: out.rows } : { cols: 80, rows: 25 };
}
