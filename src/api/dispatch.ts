// The API's actions that answer one JSON value (or nothing), run on a VM manager: everything but the streams
// (logs, events, stats), the console WebSocket and a migration's receiving end, which need a connection. The
// daemon's HTTP server answers with it, and so does the browser's in-page hypervisor (src/host/browser), so a
// request means the same wherever the manager runs. Host-neutral.
import type { VmAction, VmInfo, VmSpec, GuestImageInfo } from '../hypervisor/model.js';
import type { VmManager } from '../hypervisor/manager.js';
import { STOP_REASONS } from '../hypervisor/events.js';
import { openApiDocument } from './openapi.js';

/**
 * A VM's console as a client in the same process holds it (the browser's in-page API; the console page's
 * WebSocket is wrapped to the same shape): bytes to the guest; bytes from it, or a text event
 * ({"event":"state",…} or {"event":"skipped",…}), as the console WebSocket carries them.
 */
export interface ConsoleChannel {
  send(bytes: Uint8Array): void;
  close(): void;
  readonly open: boolean;
  onmessage: (data: Uint8Array | string) => void;
  /** It ended: 4404 when the VM was deleted. */
  onclose: (code: number, reason: string) => void;
}

/** The actions runAction takes. */
export type JsonAction = Exclude<VmAction, { kind: 'logs' | 'events' | 'stats' | 'console' | 'migration-incoming' }>;

/** What the host adds to the manager's checks. */
export interface ActionHost {
  /** Further checks of a new VM's definition (the daemon: its files exist, lie in allowed directories); throws ApiError. */
  checkCreate?(spec: VmSpec): void;
  /** GET /v1/images; absent: none. */
  images?(): Promise<GuestImageInfo[]>;
  /** Runs before an action (the browser's: reads a snapshot's record, which its manager then takes synchronously). */
  prepare?(a: JsonAction): Promise<void>;
}

/** The answer: a status, and a body to send as JSON (a string: as text, e.g. /metrics), none for 204. */
export interface ActionAnswer {
  status: number;
  body?: unknown;
}

/** Runs `a` on `m`; throws ApiError for the client (anything else is an internal error). */
export async function runAction(m: VmManager, a: JsonAction, host: ActionHost = {}): Promise<ActionAnswer> {
  await host.prepare?.(a);
  switch (a.kind) {
    case 'create':
      host.checkCreate?.(a.spec);
      return { status: 201, body: m.create(a.spec) };
    case 'restore': return { status: 201, body: m.createFromSnapshot(a.request) };
    case 'snapshot': return { status: 200, body: await m.snapshot(a.id, a.request) };
    case 'migrate': return { status: 200, body: await m.migrate(a.id, a.request) };
    case 'list': return { status: 200, body: m.list() };
    case 'get': return { status: 200, body: m.inspect(a.id) };
    case 'start': return { status: 200, body: m.start(a.id) };
    case 'stop': return { status: 200, body: m.stop(a.id) };
    case 'restart': return { status: 200, body: restart(m, a.id) };
    case 'pause': return { status: 200, body: m.pause(a.id) };
    case 'resume': return { status: 200, body: m.resume(a.id) };
    case 'delete':
      m.remove(a.id);
      return { status: 204 };
    case 'update': return { status: 200, body: m.update(a.id, a.patch) };
    case 'update-disk':
    case 'update-nic':
      return { status: 200, body: m.updateDevice(a.id, a.kind === 'update-disk' ? 'disk' : 'nic', a.index, a.patch) };
    case 'images': return { status: 200, body: host.images ? await host.images() : [] };
    case 'metrics': return { status: 200, body: metricsText(m.list()) };
    case 'openapi': return { status: 200, body: openApiDocument() };
  }
}

/** POST /v1/vms/{id}/restart: a running or paused VM is stopped (its thread ends) and started afresh; any other is started. */
function restart(m: VmManager, id: string): VmInfo {
  const state = m.inspect(id).state;
  if (state === 'running' || state === 'paused') m.stop(id, STOP_REASONS.restart);
  return m.start(id);
}

export function metricsText(vms: VmInfo[]): string {
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'counter' | 'gauge', value: (v: VmInfo) => number) => {
    lines.push(`# HELP tvisor_${name} ${help}`, `# TYPE tvisor_${name} ${type}`);
    for (const v of vms) lines.push(`tvisor_${name}{vm="${v.id}",name="${v.name}"} ${value(v)}`);
  };
  metric('vm_running', '1 when the VM is running', 'gauge', (v) => (v.state === 'running' ? 1 : 0));
  metric('vm_cpu_time_seconds_total', 'host CPU time given to the VM', 'counter', (v) => v.stats.cpu_time_ns / 1e9);
  metric('vm_steal_time_seconds_total', 'time the VM was runnable but not running', 'counter', (v) => v.stats.steal_time_ns / 1e9);
  metric('vm_instructions_total', 'guest instructions retired', 'counter', (v) => v.stats.instructions);
  metric('vm_memory_touched_bytes', 'guest RAM written at least once', 'gauge', (v) => v.stats.memory_touched_bytes);
  metric('vm_balloon_bytes', 'memory in the balloon', 'gauge', (v) => v.stats.balloon_mib * 2 ** 20);
  metric('vm_disk_read_bytes_total', 'bytes read from disks', 'counter', (v) => v.stats.disk_read_bytes);
  metric('vm_disk_write_bytes_total', 'bytes written to disks', 'counter', (v) => v.stats.disk_write_bytes);
  metric('vm_net_rx_bytes_total', 'bytes received by NICs', 'counter', (v) => v.stats.net_rx_bytes);
  metric('vm_net_tx_bytes_total', 'bytes sent by NICs', 'counter', (v) => v.stats.net_tx_bytes);
  metric('vm_disk_ops_total', 'disk requests served (reads and writes)', 'counter', (v) => v.stats.disk_read_ops + v.stats.disk_write_ops);
  metric('vm_disk_throttled_total', 'times a rate limiter made a disk queue wait', 'counter', (v) => v.stats.disk_throttled);
  metric('vm_net_throttled_total', 'times a rate limiter made a NIC wait (either direction)', 'counter', (v) => v.stats.net_throttled);
  metric('vm_console_output_dropped_bytes_total', 'console output dropped while the daemon was behind', 'counter', (v) => v.stats.console_output_dropped_bytes);
  metric('vm_console_input_dropped_bytes_total', 'console input the guest did not get', 'counter', (v) => v.stats.console_input_dropped_bytes);
  metric('vm_net_rx_dropped_packets_total', 'frames for the VM dropped at the virtual switch', 'counter', (v) => v.stats.net_rx_dropped_packets);
  return `${lines.join('\n')}\n`;
}

