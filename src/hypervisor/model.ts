// The hypervisor's domain model: a VM's definition (VmSpec) and live changes, its states, what it reports, the
// actions a client can take on VMs (VmAction, which the HTTP API parses requests into), and the states each
// action is allowed in. The VMM owns these types; the API depends on them, never the reverse.
import * as E from './errors.js';
import type { ApiError } from './errors.js';

/**
 * created: defined, never started · running · paused: vCPUs parked, memory kept · stopped: shut down (guest
 * poweroff or stop) · crashed: the machine died (guest fault, device or host error); `reason` says why.
 */
export type VmState = 'created' | 'running' | 'paused' | 'stopped' | 'crashed';
export const VM_STATES: readonly VmState[] = ['created', 'running', 'paused', 'stopped', 'crashed'];

/** A VM's name: what the CLI and the API call it by (JSON Schema pattern, ECMA-262 with the u flag). */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$';

/** A VM's scheduling settings when its definition gives none. */
export const DEFAULT_SCHEDULING = { weight: 256, cap: 0 } as const;

/** A token bucket: `size` tokens (bytes or operations) refilled completely every `refill_time_ms`. */
export interface TokenBucket {
  size: number;
  refill_time_ms: number;
  /** Extra tokens available once, at start (e.g. to let a guest boot fast); absent = none. */
  one_time_burst?: number;
}

export interface RateLimiter {
  bandwidth?: TokenBucket; // bytes
  ops?: TokenBucket; // requests (disks) or packets (NICs)
}

export interface DiskConfig {
  path: string;
  /** Default false. Excludes `overlay`. */
  readonly: boolean;
  /** Copy-on-write file taking the guest's writes, so the image at `path` is never modified. */
  overlay?: string;
  rate_limiter?: RateLimiter;
}

export interface NicConfig {
  /** Derived from the VM's id when absent. */
  mac?: string;
  rate_limiter?: RateLimiter;
  /**
   * switch (the default): a port on the daemon's virtual switch; user: user-mode networking to the host's
   * network (DHCP, DNS, NAT through the host's sockets; passt on Node), with `forwards`.
   */
  mode?: 'switch' | 'user';
  /** With mode user: host ports forwarded into the guest. */
  forwards?: NicForward[];
}

/** A host port forwarded into a guest (mode user). */
export interface NicForward {
  proto: 'tcp' | 'udp';
  /** The host address to listen on; default 127.0.0.1 (this machine only). */
  host_addr: string;
  host_port: number;
  guest_port: number;
}

/** A VM definition as POST /v1/vms takes it, with defaults filled in. */
export interface VmSpec {
  name: string;
  vcpus: number;
  memory_mib: number;
  /** Absent only with `flash`: the firmware in flash boots what it finds. */
  kernel?: string;
  initrd?: string;
  /** Absent: the VM manager's default command line. */
  cmdline?: string;
  /** Absent: the hypervisor implements SBI itself and the kernel is entered in S-mode. */
  firmware?: string;
  /**
   * CFI flash (QEMU virt's pflash): `image` is bank 0 (read-only, run in place: EDK2's RISCV_VIRT_CODE.fd),
   * `vars` bank 1, written back as the guest changes it (a copy of RISCV_VIRT_VARS.fd: UEFI variables persist).
   */
  flash?: { image: string; vars?: string };
  disks: DiskConfig[];
  /** Each NIC is a port on the daemon's in-process virtual switch. */
  nics: NicConfig[];
  /** Credit-scheduler share relative to other VMs; default 256. */
  weight: number;
  /** Most CPU the VM may use, in percent of one host CPU; 0 = no cap. */
  cap: number;
}

/** Live changes (PATCH /v1/vms/{id}); at least one field is present. */
export interface VmPatch {
  weight?: number;
  cap?: number;
  /** Balloon target: MiB the guest is asked to give back; 0 deflates it. Must stay below memory_mib. */
  balloon_mib?: number;
}

/**
 * A live change of one disk or NIC (PATCH /v1/vms/{id}/disks/{index} or /nics/{index}), as Firecracker's
 * PATCH /drives/{id}: the new limits replace the old ones; null or {} removes limiting.
 */
export interface DevicePatch {
  rate_limiter: RateLimiter | null;
}

/** Counters since the VM was created (they survive stop/start, not daemon restarts). */
export interface VmStats {
  cpu_time_ns: number;
  /** Time the VM was runnable but a host CPU was not given to it. */
  steal_time_ns: number;
  instructions: number;
  memory_touched_bytes: number;
  /** Current balloon size as reported by the guest. */
  balloon_mib: number;
  disk_read_bytes: number;
  disk_write_bytes: number;
  disk_read_ops: number;
  disk_write_ops: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  net_rx_packets: number;
  net_tx_packets: number;
  /** Times a disk's rate limiter made its queue wait (all disks). */
  disk_throttled: number;
  /** Times a NIC's rate limiter made its transmit or receive path wait (all NICs). */
  net_throttled: number;
  /** Console output the guest wrote that the daemon dropped, being behind (a flood): clients got a skipped event. */
  console_output_dropped_bytes: number;
  /** Console input from clients the guest did not get: its UART buffer was full, or the VM was not running. */
  console_input_dropped_bytes: number;
  /** Frames for the VM's NICs dropped at the virtual switch because its thread was behind (all NICs). */
  net_rx_dropped_packets: number;
}

/** What GET /v1/vms/{id} answers (and the action endpoints, after acting). */
export interface VmInfo {
  id: string;
  name: string;
  state: VmState;
  /** Present when crashed: what went wrong, for a human. */
  reason?: string;
  config: VmSpec;
  stats: VmStats;
  /** Created from a snapshot not yet restored: its next start resumes the guest saved in this file. */
  resumes_from?: string;
  /** While it has one: the daemon's thread it runs on (VMs with the same number share it and never run at once). */
  thread?: number;
}

/** GET /v1/images: a guest the daemon can boot from its image cache, with the files to name in POST /v1/vms. */
export interface GuestImageInfo {
  name: string;
  description: string;
  kernel: string;
  initrd?: string;
  /** The command line it is meant to boot with (the daemon's default when a definition gives none). */
  cmdline: string;
}

/** POST /v1/vms/{id}/snapshot: where to write, and what the VM does afterwards (default: what it did before). */
export interface SnapshotRequest {
  path: string;
  after?: 'running' | 'paused' | 'stopped';
  /** Compress the RAM in the file (raw DEFLATE): about a quarter of the size, a little longer paused. */
  compress?: boolean;
}

/** What POST /v1/vms/{id}/snapshot answers. */
export interface SnapshotInfo {
  path: string;
  bytes: number;
  /** Copies of the VM's writable overlays written beside it (the disk state that goes with the saved RAM). */
  saved_disks: string[];
  /** From the request until the file was written (the guest was paused that long). */
  elapsed_ms: number;
  vm: VmInfo;
}

/** POST /v1/vms/{id}/migrate: to a thread of its own in this daemon, or (`to`) to another daemon. */
export interface MigrateRequest {
  /** The other daemon's API address, http://HOST:PORT. */
  to?: string;
  /** Its API token, when it asks for one. */
  token?: string;
}

/** What POST /v1/vms/{id}/migrate answers. */
export interface MigrationInfo {
  /** Pre-copy rounds, and the stop-and-copy. */
  rounds: number;
  pages_sent: number;
  bytes_sent: number;
  /** From the request until the guest ran again in its new thread. */
  total_ms: number;
  /** From the parking of its vCPUs for the stop-and-copy until they ran again: how long the guest stood still. */
  downtime_ms: number;
  /** The VM where it runs now: here, or on the other daemon (its id there). */
  vm: VmInfo;
  /** Set when it moved to another daemon. */
  to?: string;
}

/**
 * POST /v1/vms with `snapshot`: a new VM whose first start resumes the guest saved there. The machine (memory,
 * vCPUs, images, devices) is the snapshot's; each disk saved with an overlay gets a new overlay of its own,
 * copied from the saved one: at `overlays[disk]` (disk = vda, vdb, …), or beside the snapshot by default.
 */
export interface RestoreRequest {
  snapshot: string;
  /** Default: the name of the VM saved. */
  name?: string;
  overlays?: Record<string, string>;
  /** Default: the saved VM's. */
  weight?: number;
  cap?: number;
}

// ---- actions ----

export type VmAction =
  | { kind: 'create'; spec: VmSpec }
  /** POST /v1/vms with a snapshot: create from it. */
  | { kind: 'restore'; request: RestoreRequest }
  | { kind: 'snapshot'; id: string; request: SnapshotRequest }
  /** Live migration to a VM thread of its own, or to another daemon. */
  | { kind: 'migrate'; id: string; request: MigrateRequest }
  /** The receiving end of a migration from another daemon (a WebSocket). */
  | { kind: 'migration-incoming' }
  | { kind: 'list' }
  | { kind: 'get'; id: string }
  | { kind: 'start' | 'pause' | 'resume' | 'stop' | 'restart'; id: string }
  /** The console output kept by the daemon; `follow`: then what comes next, until the VM stops; `tail`: its last lines only. */
  | { kind: 'logs'; id: string; follow: boolean; tail?: number }
  /** The stream of lifecycle events of every VM. */
  | { kind: 'events' }
  /** The stream of every VM's resource use as rates, one sample every `intervalMs`. */
  | { kind: 'stats'; intervalMs: number }
  /** The guest images the daemon can boot without the client naming files (the default guest, once built). */
  | { kind: 'images' }
  | { kind: 'delete'; id: string }
  | { kind: 'update'; id: string; patch: VmPatch }
  /** `index` counts the VM's disks (or NICs) from 0 in the order of its definition. */
  | { kind: 'update-disk' | 'update-nic'; id: string; index: number; patch: DevicePatch }
  | { kind: 'console'; id: string }
  | { kind: 'metrics' }
  | { kind: 'openapi' };

export type VmActionKind = VmAction['kind'];
/** The actions on one existing VM; only these depend on a VM's state. */
export type VmTargetedAction = Extract<VmAction, { id: string }>;
export type VmTargetedKind = VmTargetedAction['kind'];

/**
 * The VM states in which each action on an existing VM is allowed; in any other state it answers 409 conflict
 * and changes nothing. create, list, events, stats, images, metrics and openapi concern no single VM and are always allowed.
 */
export const ALLOWED_IN: { readonly [K in VmTargetedKind]: readonly VmState[] } = {
  get: VM_STATES,
  // from crashed too: starting boots the machine afresh, which is how a user recovers a crashed VM
  start: ['created', 'stopped', 'crashed'],
  pause: ['running'],
  resume: ['paused'],
  stop: ['running', 'paused'],
  // like docker restart: a running or paused VM is stopped and started again, any other one just started
  restart: VM_STATES,
  // the output kept from its last boot, in any state
  logs: VM_STATES,
  // not while running or paused: deleting would kill a live guest by accident; stop it first
  delete: ['created', 'stopped', 'crashed'],
  // weight and cap take effect at the next scheduling decision, the balloon target when the guest's driver
  // next looks (or at boot); all are stored, so a change before start is kept
  update: VM_STATES,
  // a device's limits: stored, and passed to the VM thread when there is one (running or paused)
  'update-disk': ['created', 'running', 'paused', 'stopped'],
  'update-nic': ['created', 'running', 'paused', 'stopped'],
  // before start too, so a client can attach first and see the whole boot
  console: VM_STATES,
  // a machine to save: the guest is paused for the write (a stopped VM has no machine left)
  snapshot: ['running', 'paused'],
  // a live guest to move (a stopped VM just starts in a new thread)
  migrate: ['running', 'paused'],
};

export function isAllowed(kind: VmTargetedKind, state: VmState): boolean {
  return ALLOWED_IN[kind].includes(state);
}

/** The 409 to answer when `action` is not allowed in `state`; null when it is allowed. */
export function stateError(action: VmTargetedAction, state: VmState): ApiError | null {
  if (isAllowed(action.kind, state)) return null;
  return E.wrongState(action.kind, action.id, state, ALLOWED_IN[action.kind]);
}

