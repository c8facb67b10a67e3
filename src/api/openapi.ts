// The OpenAPI 3.1 description of the daemon's HTTP API (served at GET /v1/openapi.json). Its request schemas
// must accept exactly what parseRequest accepts; openapi.test.ts checks that by generating bodies from them.
import { API_ERROR_STATUS, type ApiErrorCode } from '../hypervisor/errors.js';
import {
  CMDLINE_PATTERN, DAEMON_URL_PATTERN, IP_PATTERN, TOKEN_MAX_LENGTH, LIMITS, LOGS_TAIL_MAX, STATS_INTERVAL_MS, MAC_PATTERN, MAC_ZERO, MAX_BODY_BYTES, NAME_PATTERN, PATH_PATTERN, VM_ID_PATTERN, VM_STATES,
} from './actions.js';
import { VM_EVENT_KINDS } from '../hypervisor/events.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const int = (range: { min: number; max: number }, description?: string, dflt?: number) => ({
  type: 'integer',
  minimum: range.min,
  maximum: range.max,
  ...(dflt === undefined ? {} : { default: dflt }),
  ...(description ? { description } : {}),
});
const counter = (description: string) => ({ type: 'integer', minimum: 0, description });

const schemas = {
  FilePath: {
    type: 'string',
    maxLength: LIMITS.pathLength,
    pattern: PATH_PATTERN,
    description: 'An absolute, normalised path (no ".", ".." or empty components) under a directory the daemon allows (else 403 forbidden_path, also when its directory resolves, through symlinks, outside them). At create the file must exist (an overlay may be missing if its directory exists: it is created at start) and be a regular file (a FIFO, directory, device, symbolic link as last component or file with several hard links is 400 bad_request). Every start checks again where the file is opened: a VM whose file fails then crashes with the reason.',
  },
  TokenBucket: {
    type: 'object',
    additionalProperties: false,
    required: ['size', 'refill_time_ms'],
    properties: {
      size: int(LIMITS.bucketSize, 'Tokens (bytes or operations) in a full bucket.'),
      refill_time_ms: int(LIMITS.refillTimeMs, 'Milliseconds to refill the whole bucket.'),
      one_time_burst: int(LIMITS.oneTimeBurst, 'Extra tokens usable once, from the start; absent means none.'),
    },
  },
  RateLimiter: {
    type: 'object',
    additionalProperties: false,
    properties: {
      bandwidth: { ...ref('TokenBucket'), description: 'Bytes.' },
      ops: { ...ref('TokenBucket'), description: 'Requests (disks) or packets (NICs).' },
    },
  },
  Disk: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: ref('FilePath'),
      readonly: { type: 'boolean', default: false },
      overlay: { ...ref('FilePath'), description: 'Copy-on-write file taking the guest\'s writes; excludes readonly: true.' },
      rate_limiter: ref('RateLimiter'),
    },
    dependentSchemas: { overlay: { properties: { readonly: { const: false } } } },
  },
  Nic: {
    type: 'object',
    additionalProperties: false,
    description: 'A virtio NIC: a port on the daemon\'s in-process virtual switch (mode switch, the default), or user-mode networking to the host\'s network (mode user: the daemon starts Debian\'s passt for it with the VM, which gives the guest DHCP, DNS and NAT through the host\'s sockets, maps the gateway\'s address to the host, and forwards host ports into the guest; a VM whose passt cannot start, e.g. a forwarded port in use or passt not installed, crashes at start with the reason).',
    properties: {
      mac: {
        type: 'string',
        pattern: MAC_PATTERN,
        not: { const: MAC_ZERO },
        description: 'Unicast MAC like 52:54:00:12:34:56; derived from the VM id when absent.',
      },
      rate_limiter: ref('RateLimiter'),
      mode: { type: 'string', enum: ['switch', 'user'], description: 'switch when absent.' },
      forwards: {
        type: 'array',
        maxItems: LIMITS.forwards.maxItems,
        description: 'With mode user only: host ports forwarded into the guest (QEMU\'s hostfwd); a protocol, address and port at most once.',
        'x-unique-by': ['proto', 'host_addr', 'host_port'],
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['host_port', 'guest_port'],
          properties: {
            proto: { type: 'string', enum: ['tcp', 'udp'], default: 'tcp' },
            host_addr: { type: 'string', maxLength: 45, pattern: IP_PATTERN, default: '127.0.0.1', description: 'The host address to listen on.' },
            host_port: { type: 'integer', minimum: LIMITS.port.min, maximum: LIMITS.port.max },
            guest_port: { type: 'integer', minimum: LIMITS.port.min, maximum: LIMITS.port.max },
          },
        },
      },
    },
    dependentSchemas: { forwards: { properties: { mode: { const: 'user' } }, required: ['mode'] } },
  },
  VmSpec: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    // a kernel, unless firmware in flash boots what it finds (started by M-mode firmware, or by every hart)
    anyOf: [{ required: ['kernel'] }, { required: ['flash', 'firmware'] }],
    properties: {
      name: { type: 'string', maxLength: 63, pattern: NAME_PATTERN },
      vcpus: int(LIMITS.vcpus, 'Virtual CPUs.', LIMITS.vcpus.default),
      memory_mib: int(LIMITS.memory_mib, 'Guest RAM in MiB.', LIMITS.memory_mib.default),
      kernel: { ...ref('FilePath'), description: 'Linux Image or ELF kernel; may be absent with flash and firmware.' },
      initrd: ref('FilePath'),
      cmdline: { type: 'string', maxLength: LIMITS.cmdlineLength, pattern: CMDLINE_PATTERN, description: 'Kernel command line; absent means the daemon\'s default.' },
      firmware: { anyOf: [ref('FilePath'), { enum: ['none'] }], description: 'M-mode firmware: a raw binary run from the start of RAM (e.g. OpenSBI fw_dynamic.bin) or an ELF loaded where it is linked; absent means the hypervisor provides SBI. "none" (not a path): no firmware, every hart starts the kernel itself in M-mode (QEMU\'s -bios none), e.g. xv6.' },
      flash: {
        type: 'object',
        additionalProperties: false,
        required: ['image'],
        properties: {
          image: { ...ref('FilePath'), description: 'Flash bank 0 at 0x20000000 (at most 32 MiB): read-only, run in place, e.g. EDK2\'s RISCV_VIRT_CODE.fd.' },
          vars: { ...ref('FilePath'), description: 'Flash bank 1 at 0x22000000: every change the guest makes is written back to this file at once, e.g. a copy of RISCV_VIRT_VARS.fd (UEFI variables persist in it). Absent: bank 1 starts erased and is kept in memory only.' },
        },
        description: 'CFI flash as on QEMU\'s virt board (pflash). With firmware and no kernel, the firmware\'s next stage is bank 0 (OpenSBI starts it in S-mode); with firmware "none", every hart starts it in M-mode. Such a VM cannot be snapshotted or migrated yet.',
      },
      disks: { type: 'array', maxItems: LIMITS.disks.maxItems, items: ref('Disk'), default: [] },
      nics: { type: 'array', maxItems: LIMITS.nics.maxItems, items: ref('Nic'), default: [] },
      weight: int(LIMITS.weight, 'Credit-scheduler share relative to other VMs.', LIMITS.weight.default),
      cap: int(LIMITS.cap, 'Most CPU the VM may use in percent of one host CPU; 0 = no cap.', LIMITS.cap.default),
    },
  },
  RestoreRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['snapshot'],
    description: 'A new VM (state created) whose first start resumes the guest saved in a snapshot (POST /v1/vms/{id}/snapshot, or tvisor run --save). Its machine (memory, vCPUs, images, command line, devices) is the snapshot\'s, so no other field of a definition may be given (400). Each disk saved with an overlay gets an overlay of its own, copied from the one saved with the snapshot, so two VMs restored from one snapshot are independent clones (they keep the saved guest\'s MAC and IP addresses, as any clone does). Every file the machine uses must be the one it used when saved (else 422 bad_snapshot, naming it).',
    properties: {
      snapshot: { ...ref('FilePath'), description: 'The snapshot file.' },
      name: { type: 'string', maxLength: 63, pattern: NAME_PATTERN, description: 'Default: the name of the VM saved.' },
      overlays: {
        type: 'object',
        additionalProperties: false,
        description: 'Where each new overlay goes, by disk name (vda, vdb, …); default: beside the snapshot, named SNAPSHOT.NAME.DISK. The file must not exist (409 otherwise: nothing is ever overwritten).',
        properties: Object.fromEntries([...'abcdefghijklmnop'].map((c) => [`vd${c}`, ref('FilePath')])),
      },
      weight: int(LIMITS.weight, 'Default: the saved VM\'s.'),
      cap: int(LIMITS.cap, 'Default: the saved VM\'s.'),
    },
  },
  CreateVm: {
    anyOf: [ref('VmSpec'), ref('RestoreRequest')],
    description: 'A definition, or a snapshot to restore (a body with a snapshot field).',
  },
  SnapshotRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { ...ref('FilePath'), description: 'The file to write (replaced if it is a snapshot already; any other file there is refused). Copies of the VM\'s writable overlays are written beside it, as PATH.vda.overlay and so on.' },
      after: { type: 'string', enum: ['running', 'paused', 'stopped'], description: 'What the VM does once saved; default: what it did before (running or paused).' },
      compress: { type: 'boolean', description: 'Compress the RAM pages in the file (raw DEFLATE, zlib\'s fastest level): the default guest\'s 56 MiB become about 15 MiB, and the guest stays paused a few hundred ms longer while they are compressed. Restores read either kind. Default false.' },
    },
  },
  SnapshotInfo: {
    type: 'object',
    required: ['path', 'bytes', 'saved_disks', 'elapsed_ms', 'vm'],
    properties: {
      path: { type: 'string' },
      bytes: counter('Size of the snapshot file: the machine\'s state and the RAM pages the guest ever wrote, zero pages left out.'),
      saved_disks: { type: 'array', items: { type: 'string' }, description: 'The copies of the writable overlays written beside it.' },
      elapsed_ms: { type: 'number', minimum: 0, description: 'From the request until the snapshot was written: how long the guest was paused.' },
      vm: ref('VmInfo'),
    },
  },
  MigrateRequest: {
    type: 'object',
    additionalProperties: false,
    description: 'No body, or {}: to a VM thread of its own in this daemon. With to: to that daemon.',
    properties: {
      to: { type: 'string', maxLength: 256, pattern: DAEMON_URL_PATTERN, description: 'The other daemon\'s API address, http://HOST:PORT. It must reach the VM\'s files (kernel, initrd, disks) at the same paths, under its own --allow-dir directories.' },
      token: { type: 'string', maxLength: TOKEN_MAX_LENGTH, description: 'The other daemon\'s API token, when it asks for one. Only with to.' },
    },
    dependentSchemas: { token: { required: ['to'] } },
  },
  MigrationInfo: {
    type: 'object',
    required: ['rounds', 'pages_sent', 'bytes_sent', 'total_ms', 'downtime_ms', 'vm'],
    properties: {
      rounds: counter('Pre-copy rounds and the stop-and-copy.'),
      pages_sent: counter('4 KiB pages copied in all (a page written again is copied again).'),
      bytes_sent: counter('The same in bytes.'),
      total_ms: { type: 'number', minimum: 0, description: 'From the request until the guest ran again in its new thread.' },
      downtime_ms: { type: 'number', minimum: 0, description: 'From the parking of its vCPUs for the stop-and-copy until they ran again.' },
      vm: { ...ref('VmInfo'), description: 'The VM where it runs now (on the other daemon, with its id there, when it moved there).' },
      to: { type: 'string', description: 'The daemon it moved to, when it left this one.' },
    },
  },
  VmPatch: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      weight: int(LIMITS.weight),
      cap: int(LIMITS.cap),
      balloon_mib: int(LIMITS.balloon_mib, 'Balloon target in MiB; must be below the VM\'s memory_mib (else 400).'),
    },
  },
  DevicePatch: {
    type: 'object',
    additionalProperties: false,
    required: ['rate_limiter'],
    properties: {
      rate_limiter: {
        anyOf: [ref('RateLimiter'), { type: 'null' }],
        description: 'Replaces the device\'s limits; null or {} removes limiting. A bucket that stays keeps its current balance (clamped to the new size), so a change gives no free burst; one_time_burst, when given, replaces what is left of the old one.',
      },
    },
  },
  VmState: {
    type: 'string',
    enum: [...VM_STATES],
    description: 'created: never started · running · paused · stopped · crashed (see reason).',
  },
  VmStats: {
    type: 'object',
    required: [
      'cpu_time_ns', 'steal_time_ns', 'instructions', 'memory_touched_bytes', 'balloon_mib', 'disk_read_bytes',
      'disk_write_bytes', 'disk_read_ops', 'disk_write_ops', 'net_rx_bytes', 'net_tx_bytes', 'net_rx_packets', 'net_tx_packets',
      'disk_throttled', 'net_throttled', 'console_output_dropped_bytes', 'console_input_dropped_bytes', 'net_rx_dropped_packets',
    ],
    properties: {
      cpu_time_ns: counter('Host CPU time spent running the VM\'s vCPUs.'),
      steal_time_ns: counter('Time the VM was runnable but got no host CPU.'),
      instructions: counter('Guest instructions retired.'),
      memory_touched_bytes: counter('Guest RAM written at least once (what the VM really costs the host).'),
      balloon_mib: counter('Current balloon size reported by the guest.'),
      disk_read_bytes: counter('All disks.'),
      disk_write_bytes: counter('All disks.'),
      disk_read_ops: counter('All disks.'),
      disk_write_ops: counter('All disks.'),
      net_rx_bytes: counter('All NICs.'),
      net_tx_bytes: counter('All NICs.'),
      net_rx_packets: counter('All NICs.'),
      net_tx_packets: counter('All NICs.'),
      disk_throttled: counter('Times a disk\'s rate limiter made its queue wait (all disks).'),
      net_throttled: counter('Times a NIC\'s rate limiter made its transmit or receive path wait (all NICs).'),
      console_output_dropped_bytes: counter('Console output the guest wrote that the daemon dropped while it was behind (a flood); attached clients got {"event":"skipped"}. Since the VM started.'),
      console_input_dropped_bytes: counter('Console input from clients that the guest did not get: its UART buffer (64 KiB) was full, or the VM was not running. Since the VM started.'),
      net_rx_dropped_packets: counter('Frames for the VM\'s NICs dropped at the virtual switch because its thread was behind (all NICs). Since the VM started.'),
    },
  },
  VmInfo: {
    type: 'object',
    required: ['id', 'name', 'state', 'config', 'stats'],
    properties: {
      id: { type: 'string', pattern: VM_ID_PATTERN },
      name: { type: 'string' },
      state: ref('VmState'),
      reason: { type: 'string', description: 'Why the VM crashed; present when state is crashed.' },
      config: { ...ref('VmSpec'), description: 'The definition with defaults filled in and live changes applied.' },
      stats: ref('VmStats'),
      resumes_from: { type: 'string', description: 'Created from this snapshot and not restored yet: the next start resumes the guest saved there.' },
      thread: { type: 'integer', minimum: 1, description: 'While it has one: the daemon\'s thread the VM runs on. VMs with the same number share it (serve --vms-per-thread) and never run at the same time.' },
    },
  },
  VmEvent: {
    type: 'object',
    required: ['time', 'id', 'name', 'event', 'state'],
    properties: {
      time: { type: 'string', description: 'When it happened: ISO 8601 in UTC with milliseconds, e.g. 2026-12-04T15:30:00.123Z.' },
      id: { type: 'string', pattern: VM_ID_PATTERN },
      name: { type: 'string' },
      event: {
        type: 'string',
        enum: [...VM_EVENT_KINDS],
        description: 'created · started (also a start paused, at daemon restart) · paused · resumed · stopped (reason: stop requested, restart requested, the guest powered off, the guest rebooted (a multi-vCPU VM starts afresh, so started follows), the daemon is shutting down, or saved to a snapshot, then stopped as asked) · crashed (reason) · deleted · rebooted (the guest rebooted within its machine; it stays running) · migrated (moved, live, to another thread of the daemon: by POST /v1/vms/{id}/migrate, or by the daemon itself when it shared a thread with another busy VM while a host CPU was free; the reason says which).',
      },
      state: { ...ref('VmState'), description: 'The VM\'s state after the event (for deleted: the state it had).' },
      reason: { type: 'string', description: 'Why: the crash\'s reason, who stopped the VM, or that the guest rebooted.' },
    },
  },
  VmRates: {
    type: 'object',
    description: 'One VM over one interval of GET /v1/stats: CPU and steal in percent of one host CPU, guest MIPS, disk and network bytes per second; its settings and memory as they are now.',
    required: ['id', 'name', 'state', 'vcpus', 'memory_mib', 'weight', 'cap', 'cpu_pct', 'steal_pct', 'mips', 'memory_touched_bytes', 'balloon_mib', 'disk_read_bps', 'disk_write_bps', 'net_rx_bps', 'net_tx_bps'],
    properties: {
      id: { type: 'string', pattern: VM_ID_PATTERN },
      name: { type: 'string' },
      state: ref('VmState'),
      vcpus: { type: 'integer' },
      memory_mib: { type: 'integer' },
      weight: { type: 'integer' },
      cap: { type: 'integer' },
      cpu_pct: { type: 'number', minimum: 0, description: 'Time its vCPUs ran, in percent of one host CPU.' },
      steal_pct: { type: 'number', minimum: 0, description: 'Time it was runnable but waited for a host CPU or its cap, in percent of one host CPU.' },
      mips: { type: 'number', minimum: 0, description: 'Guest instructions retired, millions per second.' },
      memory_touched_bytes: { type: 'integer', minimum: 0 },
      balloon_mib: { type: 'integer', minimum: 0 },
      disk_read_bps: { type: 'integer', minimum: 0 },
      disk_write_bps: { type: 'integer', minimum: 0 },
      net_rx_bps: { type: 'integer', minimum: 0 },
      net_tx_bps: { type: 'integer', minimum: 0 },
    },
  },
  StatsSample: {
    type: 'object',
    required: ['time', 'interval_ms', 'host', 'vms'],
    properties: {
      time: { type: 'string', description: 'When the sample was taken: ISO 8601 in UTC.' },
      interval_ms: { type: 'number', description: 'Milliseconds between the two readings the rates come from.' },
      host: {
        type: 'object',
        description: 'The sums over every VM, the VMs\' memory, and the host capacity the daemon shares (serve --pcpus and --memory-budget).',
        required: ['pcpus', 'memory_budget_mib', 'vms', 'running', 'memory_committed_mib', 'cpu_pct', 'steal_pct', 'mips', 'memory_touched_bytes', 'disk_read_bps', 'disk_write_bps', 'net_rx_bps', 'net_tx_bps'],
        properties: {
          pcpus: { type: 'integer' },
          memory_budget_mib: { type: 'integer' },
          vms: { type: 'integer' },
          running: { type: 'integer' },
          memory_committed_mib: { type: 'integer' },
          cpu_pct: { type: 'number' },
          steal_pct: { type: 'number' },
          mips: { type: 'number' },
          memory_touched_bytes: { type: 'integer' },
          disk_read_bps: { type: 'integer' },
          disk_write_bps: { type: 'integer' },
          net_rx_bps: { type: 'integer' },
          net_tx_bps: { type: 'integer' },
        },
      },
      vms: { type: 'array', items: ref('VmRates') },
    },
  },
  GuestImage: {
    type: 'object',
    description: 'A guest the daemon can boot from its image cache: name its files in POST /v1/vms.',
    required: ['name', 'description', 'kernel', 'cmdline'],
    properties: {
      name: { type: 'string' },
      description: { type: 'string' },
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      cmdline: { type: 'string', description: 'The command line it boots with: the daemon\'s default, used when a definition gives none.' },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: Object.keys(API_ERROR_STATUS) },
          message: { type: 'string', description: 'For people: what is wrong and what to do.' },
        },
      },
    },
  },
};

/** One reusable response per error status, saying which codes it carries. */
function errorResponses(): Record<string, object> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const [code, status] of Object.entries(API_ERROR_STATUS) as [ApiErrorCode, number][]) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, object> = {};
  for (const [status, codes] of byStatus) {
    out[`Error${status}`] = {
      description: `error.code ${codes.join(' or ')}`,
      content: { 'application/json': { schema: ref('Error') } },
      ...(status === 405 ? { headers: { Allow: { schema: { type: 'string' }, description: 'The methods the path takes.' } } } : {}),
    };
  }
  return out;
}

const errs = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/Error${s}` }]));
/** Errors any request can meet: bad route parts, auth, and the daemon itself. */
const COMMON = [400, 401, 403, 404, 405, 500];
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const idParam = { $ref: '#/components/parameters/VmId' };

/** PATCH /v1/vms/{id}/disks/{index} and /nics/{index}. */
function devicePatch(device: 'disk' | 'nic', what: string) {
  const Device = device === 'disk' ? 'Disk' : 'Nic';
  return {
    patch: {
      operationId: `update${Device}`,
      summary: `Change the rate limiter of one ${device}, live`,
      description: `Like Firecracker's PATCH /drives/{id}. The ${device} is the index-th of the VM's ${device}s (from 0, in the order of its definition); a VM without it is 404. Limits ${what}. Allowed when the VM is created, running, paused or stopped (409 when crashed); the definition is updated, and a running or paused VM applies the change at once.`,
      parameters: [idParam, { $ref: `#/components/parameters/${Device}Index` }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('DevicePatch') } } },
      responses: { '200': vmInfo('The VM with the change applied.'), ...errs(...COMMON, 409, 413, 415) },
    },
  };
}
const vmInfo = (description: string) => json(ref('VmInfo'), description);

function indexParam(device: string, max: number) {
  return {
    name: 'index',
    in: 'path',
    required: true,
    description: `The ${device}'s position in the VM's definition, from 0; decimal without leading zeros. An index no VM can have is 404.`,
    schema: { type: 'integer', minimum: 0, maximum: max - 1 },
  };
}

function lifecycle(kind: 'start' | 'pause' | 'resume' | 'stop' | 'restart', allowed: string, summary: string, more = '') {
  return {
    post: {
      operationId: `${kind}Vm`,
      summary,
      description: `Allowed when the VM is ${allowed}; otherwise 409 conflict and nothing changes.${more} Takes no body.`,
      parameters: [idParam],
      responses: { '200': vmInfo('The VM after the action.'), ...errs(...COMMON, 409, 413) },
    },
  };
}

/** The whole document; a fresh object each call. */
export function openApiDocument(): object {
  return structuredClone({
    openapi: '3.1.0',
    info: {
      title: 'tvisor',
      version: '1',
      description: `Runs 64-bit RISC-V VMs. Request bodies are JSON (Content-Type: application/json, UTF-8, at most ${MAX_BODY_BYTES} bytes; a bigger one is 413, refused before it is sent when the client asks with Expect: 100-continue) and unknown fields are refused. A request that fails changes nothing. Errors are {error: {code, message}}. A client has 10 s (or the request timeout if shorter) to send its headers and 30 s (serve --request-timeout) for the whole request, else the connection is closed (Node's plain-text 408); idle keep-alive connections close after 5 s; connections beyond serve --max-connections (default 256, console WebSockets included) are refused.`,
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/v1/vms': {
        get: {
          operationId: 'listVms',
          summary: 'All VMs',
          responses: { '200': json({ type: 'array', items: ref('VmInfo') }, 'Every VM, oldest first.'), ...errs(...COMMON, 413) },
        },
        post: {
          operationId: 'createVm',
          summary: 'Define a VM, or restore one from a snapshot (state created; it does not start)',
          description: 'A body with a snapshot field restores a snapshot (RestoreRequest): the new VM resumes the saved guest when started. Every defined VM holds its memory_mib of the daemon\'s memory budget (serve --memory-budget) until it is deleted, whatever its state. A VM the budget cannot hold is refused with 409 and error.code insufficient_memory (not 507): the message says how much is free; delete VMs or ask for less memory. A name already taken is 409 conflict.',
          requestBody: { required: true, content: { 'application/json': { schema: ref('CreateVm') } } },
          responses: {
            '201': vmInfo('The new VM; its definition is stored durably before this answer.'),
            ...errs(...COMMON, 403, 409, 413, 415, 422),
          },
        },
      },
      '/v1/vms/{id}': {
        parameters: [idParam],
        get: { operationId: 'getVm', summary: 'One VM', responses: { '200': vmInfo('The VM.'), ...errs(...COMMON, 413) } },
        patch: {
          operationId: 'updateVm',
          summary: 'Change weight, cap or balloon target, live',
          description: 'Allowed in every state; changes to a VM that is not running are kept and apply when it runs.',
          requestBody: { required: true, content: { 'application/json': { schema: ref('VmPatch') } } },
          responses: { '200': vmInfo('The VM with the change applied.'), ...errs(...COMMON, 413, 415) },
        },
        delete: {
          operationId: 'deleteVm',
          summary: 'Forget a VM',
          description: 'Allowed when the VM is created, stopped or crashed (stop it first); its disk images are left alone.',
          responses: { '204': { description: 'Deleted.' }, ...errs(...COMMON, 409, 413) },
        },
      },
      '/v1/vms/{id}/disks/{index}': devicePatch('disk', 'the bytes (bandwidth) and requests (ops) the guest\'s disk requests may use'),
      '/v1/vms/{id}/nics/{index}': devicePatch('nic', 'each direction separately: bytes (bandwidth) and frames (ops) sent, and the same received'),
      '/v1/vms/{id}/start': lifecycle('start', 'created, stopped or crashed', 'Boot the VM (afresh, from stopped or crashed)',
        ' Answers at once with the VM running; its thread is set up when its turn comes (the daemon sets up a few at a time, so that many starts at once do not starve the API), and its counters stay 0 until then. Also 409 conflict when one of its writable disks or overlays (or an overlay\'s base) is the same file (device and inode) as one another running or paused VM of this daemon writes; the message names that VM.'),
      '/v1/vms/{id}/pause': lifecycle('pause', 'running', 'Park the vCPUs, keeping memory'),
      '/v1/vms/{id}/resume': lifecycle('resume', 'paused', 'Continue a paused VM'),
      '/v1/vms/{id}/stop': lifecycle('stop', 'running or paused', 'Power the VM off (its definition stays)'),
      '/v1/vms/{id}/restart': lifecycle('restart', 'in any state', 'Stop the VM and start it again (like docker restart)',
        ' A running or paused VM is stopped (its thread ends, as with POST stop: the guest is not asked to shut down) and booted afresh; the events are stopped (reason "restart requested") then started. A VM that is created, stopped or crashed is just started. The answer is the VM running, as POST start; 409 conflict when one of its writable disks is in use by another VM (see start), and then a VM that was running is left stopped.'),
      '/v1/vms/{id}/snapshot': {
        post: {
          operationId: 'snapshotVm',
          summary: 'Save the running guest to a file',
          description: 'Allowed when the VM is running or paused (else 409). The guest is paused for the write (its disks flushed, the copies of its writable overlays made), then runs on, stays paused or is stopped as `after` asks. RAM is written sparsely: only the pages the guest ever wrote, zero pages left out. POST /v1/vms with {"snapshot": PATH} restores it, as a new VM (tvisor restore). A VM whose vCPUs run in parallel (vcpus > 1 without firmware) is saved with each hart\'s state taken in its own thread, and restored with its harts in threads again. 500 snapshot_failed when the host could not write it (the message says why, and the VM runs on as asked).',
          parameters: [idParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('SnapshotRequest') } } },
          responses: { '200': json(ref('SnapshotInfo'), 'Written.'), ...errs(...COMMON, 403, 409, 413, 415) },
        },
      },
      '/v1/vms/{id}/migrate': {
        post: {
          operationId: 'migrateVm',
          summary: 'Move the running guest, live: to a VM thread of its own, or to another daemon',
          description: 'Allowed when the VM is running or paused (else 409). Its RAM is copied while the guest runs: every page, then the pages written meanwhile, round after round (a dirty-page log), until few are left; then its vCPUs are parked for the stop-and-copy of the rest and of the machine\'s state, its old thread closes its disks, and the new thread opens them and resumes the guest (it is started at once and builds the guest\'s machine, taking each round\'s pages as they come, so the stop carries only the last pages and the state). Without a body (or with {}) the new thread is in this daemon: the VM stays on its virtual switch, so its TCP connections go on. With to, the new thread is on that daemon (through its GET /v1/migrations/incoming), which must reach the VM\'s files at the same paths; the VM is then defined there (same name and definition) and no longer here, and its NICs join that daemon\'s switch. The VM stays running (or paused) throughout. A VM whose vCPUs run in parallel (vcpus > 1 without firmware) moves too: each round is taken with every hart stopped between slices (its hart threads mark the same dirty log), and its harts resume in threads of their own. 500 migration_failed when it could not be done: the message says where the VM is (a failure at any step leaves it running here).',
          parameters: [idParam],
          requestBody: { required: false, content: { 'application/json': { schema: ref('MigrateRequest') } } },
          responses: { '200': json(ref('MigrationInfo'), 'Moved.'), ...errs(...COMMON, 409, 413, 415) },
        },
      },
      '/v1/migrations/incoming': {
        get: {
          operationId: 'incomingMigration',
          summary: 'The receiving end of a live migration from another daemon (a WebSocket)',
          description: 'A WebSocket upgrade, used by another tvisor daemon\'s POST /v1/vms/{id}/migrate with to; a request without Upgrade: websocket is refused with 400. The sender says which VM comes (its definition and machine), sends its RAM pages in binary messages (each round followed by a sync the receiver answers once the pages are in the VM\'s new machine, built at begin) and finally its state; the VM is defined and resumed here as if created here, with the same checks (name, memory budget, files under --allow-dir, kernel), and the sender is told its id, or why it was refused.',
          responses: { '101': { description: 'Switching Protocols: the WebSocket is open.' }, ...errs(...COMMON, 413) },
        },
      },
      '/v1/vms/{id}/logs': {
        get: {
          operationId: 'vmLogs',
          summary: 'The console output the daemon keeps (and, with follow, what comes next)',
          description: 'The VM\'s console output as the guest wrote it (bytes, usually UTF-8 text with CR LF line ends): the last 64 KiB since it last started (the daemon keeps no more, and nothing across a daemon restart). Allowed in every state; a VM that never started has none. With follow=true and a running or paused VM, the response then stays open and carries everything the guest prints, until the VM stops, crashes or is deleted (then it ends) or the client closes it. Each following client has a bounded queue (128 KiB): a client that reads too slowly skips output, marked in the stream by a line [tvisor: N bytes of output skipped], and one whose connection takes nothing for 30 s while output waits is disconnected; the daemon never waits for it.',
          parameters: [
            idParam,
            { name: 'follow', in: 'query', required: false, description: 'true (or 1, or bare follow): keep the response open and stream new output; default false.', schema: { type: 'string', enum: ['true', 'false', '1', '0', ''] } },
            { name: 'tail', in: 'query', required: false, description: 'Only the last N lines of the kept output (a final newline ends the last line); absent: all of it.', schema: { type: 'integer', minimum: 0, maximum: LOGS_TAIL_MAX } },
          ],
          responses: {
            '200': { description: 'The output; streamed on with follow=true.', content: { 'application/octet-stream': { schema: { type: 'string' } } } },
            ...errs(...COMMON, 413),
          },
        },
      },
      '/v1/events': {
        get: {
          operationId: 'events',
          summary: 'A stream of the VMs\' lifecycle events',
          description: 'Newline-delimited JSON (one VmEvent object per line) of every VM\'s lifecycle events from the moment of the request (no history): created, started, paused, resumed, stopped, crashed, deleted, rebooted and migrated. The response stays open until the client closes it or the daemon stops. Each client has a bounded queue (256 events): a client that does not read is disconnected, and the daemon never waits for it. A client that needs the current states first should GET /v1/vms after the stream is open.',
          responses: {
            '200': { description: 'The stream: each line one VmEvent.', content: { 'application/x-ndjson': { schema: ref('VmEvent') } } },
            ...errs(...COMMON, 413),
          },
        },
      },
      '/v1/stats': {
        get: {
          operationId: 'stats',
          summary: 'A stream of every VM\'s resource use, as rates',
          description: 'Newline-delimited JSON: every interval_ms (default 1000), one StatsSample with each VM\'s CPU and steal (percent of one host CPU), guest MIPS, memory touched, disk and network rates over the interval, and their sums for the host. The first line comes one interval after the request; the response stays open until the client closes it or the daemon stops. A client that does not read is disconnected once its queue (256 samples) is full. The web console\'s graphs are drawn from it.',
          parameters: [
            { name: 'interval_ms', in: 'query', required: false, description: `Milliseconds between samples, ${STATS_INTERVAL_MS.min} to ${STATS_INTERVAL_MS.max}; default ${STATS_INTERVAL_MS.default}.`, schema: { type: 'integer', minimum: STATS_INTERVAL_MS.min, maximum: STATS_INTERVAL_MS.max } },
          ],
          responses: {
            '200': { description: 'The stream: each line one StatsSample.', content: { 'application/x-ndjson': { schema: ref('StatsSample') } } },
            ...errs(...COMMON, 413),
          },
        },
      },
      '/v1/images': {
        get: {
          operationId: 'images',
          summary: 'The guests the daemon can boot from its image cache',
          description: 'The default guest (Debian\'s kernel with a busybox initramfs) once tvisor image pull (or tvisor run) has built it in the image cache the daemon uses, and the cache is among its allowed directories; an empty list otherwise. The web console creates VMs from it.',
          responses: { '200': json({ type: 'array', items: ref('GuestImage') }, 'The images.'), ...errs(...COMMON, 413) },
        },
      },
      '/v1/vms/{id}/console': {
        get: {
          operationId: 'vmConsole',
          summary: 'The serial console as a WebSocket',
          description: 'A WebSocket upgrade (RFC 6455); a request without Upgrade: websocket is refused with 400. Binary messages carry console bytes both ways (text messages from the client are taken as their UTF-8 bytes; at most 64 KiB each). The server sends text messages {\"event\":\"state\",\"state\":…,\"reason\"?:…} when the VM changes state, and {\"event\":\"skipped\",\"bytes\":N} where N bytes of output were skipped: a console is lossy under a flood — the guest keeps only its newest output while the daemon is behind, and each client has a bounded queue (128 KiB, 256 messages), so a client that reads too slowly skips output, and one whose socket takes nothing for 30 s while output waits is closed. A client first gets up to 64 KiB of recent output. Input has flow control: the server reads no more from a client while its input waits for the VM (the UART buffers 64 KiB; a paused VM holds the client back until it runs again); input is dropped while the VM has not started or has stopped, and beyond 64 KiB in flight from several clients at once. Allowed in every state, so a client can attach before start and see the whole boot. When the VM is deleted the server closes the WebSocket with code 4404 and reason \"VM deleted\". A browser, which cannot set Authorization on a WebSocket, passes the token as a subprotocol: it offers tvisor and tvisor.bearer.<the token in base64url>, and the server selects tvisor. Requests from web pages (an Origin or Sec-Fetch-Site header) are refused with 403 forbidden_origin unless they come from the daemon\'s own console page.',
          parameters: [idParam],
          responses: { '101': { description: 'Switching Protocols: the WebSocket is open.' }, ...errs(...COMMON, 413) },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics of the daemon and every VM',
          responses: {
            '200': { description: 'Prometheus text exposition format 0.0.4.', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
            ...errs(...COMMON, 413),
          },
        },
      },
      '/v1/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1.'), ...errs(...COMMON, 413) },
        },
      },
    },
    components: {
      schemas,
      responses: errorResponses(),
      parameters: {
        VmId: {
          name: 'id',
          in: 'path',
          required: true,
          description: 'As returned by POST /v1/vms; an id that cannot exist is 404.',
          schema: { type: 'string', pattern: VM_ID_PATTERN },
        },
        DiskIndex: indexParam('disk', LIMITS.disks.maxItems),
        NicIndex: indexParam('nic', LIMITS.nics.maxItems),
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Needed only when the daemon was started with an API token.' },
      },
    },
  });
}
