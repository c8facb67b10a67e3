// The validation of a VM definition: parseVmSpec (strict checks of untrusted JSON, defaults filled in), the
// limits and syntax it holds a definition to, and the small checks it is built from. It is the domain model's,
// not the API's: the HTTP API runs it on the definitions it is sent (and reuses its checks for its other
// bodies), and the host runs it again on those it reads back (the state directory, snapshot files), which must
// not depend on the layer above. Host-neutral: no node:*, no mutable state (it runs in browsers too).
import * as E from './errors.js';
import { NAME_PATTERN, DEFAULT_SCHEDULING, type VmSpec, type DiskConfig, type NicConfig, type NicForward, type RateLimiter, type TokenBucket } from './model.js';
import { resolvePath } from './paths.js';
import { NO_FIRMWARE } from './machine.js';

// ---- limits and syntax, shared with the OpenAPI document ----

export const LIMITS = {
  vcpus: { min: 1, max: 8, default: 1 },
  // wasm32 memory caps guest RAM; 16 MiB is the least Linux boots in. The default (also tvisor run's and
  // create's) holds the default guest with room to spare and lets a budget of a few GiB admit a dozen VMs.
  memory_mib: { min: 16, max: 2048, default: 256 },
  weight: { min: 1, max: 65535, default: DEFAULT_SCHEDULING.weight },
  // percent of one host CPU; 800 = eight host CPUs, enough for the largest VM (a cap above vcpus × 100 never binds)
  cap: { min: 0, max: 800, default: DEFAULT_SCHEDULING.cap },
  balloon_mib: { min: 0, max: 2048 },
  // virtio-mmio has 32 slots; console, rng and balloon need three
  disks: { maxItems: 16 },
  nics: { maxItems: 8 },
  forwards: { maxItems: 32 },
  port: { min: 1, max: 65535 },
  bucketSize: { min: 1, max: Number.MAX_SAFE_INTEGER },
  refillTimeMs: { min: 1, max: 86_400_000 }, // one day: longer is a unit mistake
  oneTimeBurst: { min: 1, max: Number.MAX_SAFE_INTEGER },
  pathLength: 4096, // PATH_MAX
  cmdlineLength: 4096,
} as const;

// JSON Schema patterns (ECMA-262, matched with the u flag); lengths count code points. NAME_PATTERN is the
// model's (hypervisor/model.ts).
/** Absolute and normalised: "/"-separated non-empty components, none "." or "..", no NUL, no trailing "/". */
export const PATH_PATTERN = '^(/([^/.\\u0000][^/\\u0000]*|\\.[^/.\\u0000][^/\\u0000]*|\\.\\.[^/\\u0000]+))+$';
/** No control characters: the command line becomes a NUL-terminated device-tree string. */
export const CMDLINE_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
/** Six hex bytes with colons; the first byte even (unicast). All zeroes is refused separately. */
export const MAC_PATTERN = '^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$';
export const MAC_ZERO = '00:00:00:00:00:00';
/** What POST /v1/vms returns as id (see VmStore): 8 lowercase hex digits. */
export const VM_ID_PATTERN = '^[0-9a-f]{8}$';

export const NAME_RE = new RegExp(NAME_PATTERN, 'u');
const PATH_RE = new RegExp(PATH_PATTERN, 'u');
const CMDLINE_RE = new RegExp(CMDLINE_PATTERN, 'u');
const MAC_RE = new RegExp(MAC_PATTERN, 'u');

// ---- the definition's fields ----

export const SPEC_FIELDS = ['name', 'vcpus', 'memory_mib', 'kernel', 'initrd', 'cmdline', 'firmware', 'flash', 'disks', 'nics', 'weight', 'cap'] as const;
const FLASH_FIELDS = ['image', 'vars'] as const;
const DISK_FIELDS = ['path', 'readonly', 'overlay', 'rate_limiter'] as const;
const NIC_FIELDS = ['mac', 'rate_limiter', 'mode', 'forwards'] as const;
const FORWARD_FIELDS = ['proto', 'host_addr', 'host_port', 'guest_port'] as const;
/** An IPv4 address in dotted decimal, or an IPv6 address (colons and hex; checked loosely, the host binds it). */
export const IP_PATTERN = '^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$';
const IP_RE = new RegExp(IP_PATTERN, 'u');
const LIMITER_FIELDS = ['bandwidth', 'ops'] as const;
const BUCKET_FIELDS = ['size', 'refill_time_ms', 'one_time_burst'] as const;

// ---- checks, each throwing the ApiError that names the field (the API's other bodies use them too) ----

export type Obj = Record<string, unknown>;

/** The object at `where`, with no fields but `allowed`. */
export function object(v: unknown, where: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw E.notAnObject(where === '' ? 'the request body' : where, v);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw E.unknownField(where, k, allowed);
  return v as Obj;
}

export const has = (o: Obj, k: string) => Object.hasOwn(o, k);
export const at = (where: string, k: string) => (where === '' ? k : `${where}.${k}`);

export function integer(v: unknown, field: string, range: { min: number; max: number }): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) throw E.notInRange(field, range.min, range.max, v);
  return v;
}

export function string(v: unknown, field: string, maxLength: number): string {
  if (typeof v !== 'string') throw E.notAString(field, v);
  const n = [...v].length;
  if (n > maxLength) throw E.tooLong(field, maxLength, n);
  return v;
}

/**
 * An absolute, normalised path (PATH_PATTERN), with a message for each way to miss it. The normalised form
 * the message suggests is resolvePath's (hypervisor/paths.ts), which is path.posix.resolve's for an absolute
 * path (spec.test.ts compares them) without importing node:path.
 */
export function filePath(v: unknown, field: string): string {
  const p = string(v, field, LIMITS.pathLength);
  if (p.includes('\u0000')) throw E.pathHasNul(field);
  if (!p.startsWith('/')) throw E.pathNotAbsolute(field, p);
  if (!PATH_RE.test(p)) throw E.pathNotNormalised(field, p, resolvePath(p));
  return p;
}

export function required(o: Obj, where: string, k: string): unknown {
  if (!has(o, k)) throw E.missingField(at(where, k));
  return o[k];
}

export function array(v: unknown, field: string, maxItems: number): unknown[] {
  if (!Array.isArray(v)) throw E.notAnArray(field, v);
  if (v.length > maxItems) throw E.tooManyItems(field, maxItems, v.length);
  return v;
}

function bucket(v: unknown, where: string): TokenBucket {
  const o = object(v, where, BUCKET_FIELDS);
  const b: TokenBucket = {
    size: integer(required(o, where, 'size'), at(where, 'size'), LIMITS.bucketSize),
    refill_time_ms: integer(required(o, where, 'refill_time_ms'), at(where, 'refill_time_ms'), LIMITS.refillTimeMs),
  };
  if (has(o, 'one_time_burst')) b.one_time_burst = integer(o.one_time_burst, at(where, 'one_time_burst'), LIMITS.oneTimeBurst);
  return b;
}

export function rateLimiter(v: unknown, where: string): RateLimiter {
  const o = object(v, where, LIMITER_FIELDS);
  const r: RateLimiter = {};
  if (has(o, 'bandwidth')) r.bandwidth = bucket(o.bandwidth, at(where, 'bandwidth'));
  if (has(o, 'ops')) r.ops = bucket(o.ops, at(where, 'ops'));
  return r;
}

function disk(v: unknown, where: string): DiskConfig {
  const o = object(v, where, DISK_FIELDS);
  const d: DiskConfig = { path: filePath(required(o, where, 'path'), at(where, 'path')), readonly: false };
  if (has(o, 'readonly')) {
    if (typeof o.readonly !== 'boolean') throw E.notABoolean(at(where, 'readonly'), o.readonly);
    d.readonly = o.readonly;
  }
  if (has(o, 'overlay')) {
    d.overlay = filePath(o.overlay, at(where, 'overlay'));
    if (d.readonly) throw E.readonlyWithOverlay(where);
  }
  if (has(o, 'rate_limiter')) d.rate_limiter = rateLimiter(o.rate_limiter, at(where, 'rate_limiter'));
  return d;
}

function nic(v: unknown, where: string): NicConfig {
  const o = object(v, where, NIC_FIELDS);
  const n: NicConfig = {};
  if (has(o, 'mac')) {
    const field = at(where, 'mac');
    const mac = string(o.mac, field, Infinity); // the pattern bounds the length, with the better message
    if (!MAC_RE.test(mac) || mac === MAC_ZERO) throw E.badMac(field, mac);
    n.mac = mac;
  }
  if (has(o, 'rate_limiter')) n.rate_limiter = rateLimiter(o.rate_limiter, at(where, 'rate_limiter'));
  if (has(o, 'mode')) {
    if (o.mode !== 'switch' && o.mode !== 'user') throw E.notOneOf(at(where, 'mode'), ['switch', 'user'], o.mode);
    n.mode = o.mode;
  }
  if (has(o, 'forwards')) {
    if (n.mode !== 'user') throw E.forwardsNeedUser(at(where, 'forwards'));
    const seen = new Set<string>();
    n.forwards = array(o.forwards, at(where, 'forwards'), LIMITS.forwards.maxItems).map((f, i) => {
      const fw = forward(f, at(where, `forwards[${i}]`));
      const key = `${fw.proto} ${fw.host_addr} ${fw.host_port}`;
      if (seen.has(key)) throw E.forwardTwice(at(where, `forwards[${i}]`), fw.proto, fw.host_port);
      seen.add(key);
      return fw;
    });
  }
  return n;
}

function forward(v: unknown, where: string): NicForward {
  const o = object(v, where, FORWARD_FIELDS);
  const proto = has(o, 'proto') ? o.proto : 'tcp';
  if (proto !== 'tcp' && proto !== 'udp') throw E.notOneOf(at(where, 'proto'), ['tcp', 'udp'], proto);
  let hostAddr = '127.0.0.1';
  if (has(o, 'host_addr')) {
    hostAddr = string(o.host_addr, at(where, 'host_addr'), 45);
    if (!IP_RE.test(hostAddr)) throw E.notAnAddress(at(where, 'host_addr'), hostAddr);
  }
  return {
    proto, host_addr: hostAddr,
    host_port: integer(required(o, where, 'host_port'), at(where, 'host_port'), LIMITS.port),
    guest_port: integer(required(o, where, 'guest_port'), at(where, 'guest_port'), LIMITS.port),
  };
}

/** The flash banks' files: bank 0's image, and bank 1's (the variable store), if any. */
function flash(v: unknown, where: string): NonNullable<VmSpec['flash']> {
  const o = object(v, where, FLASH_FIELDS);
  const image = filePath(required(o, where, 'image'), at(where, 'image'));
  return has(o, 'vars') ? { image, vars: filePath(o.vars, at(where, 'vars')) } : { image };
}

/**
 * Validates a VM definition (the body of POST /v1/vms, or one read back from the state directory) and fills in
 * defaults. Throws an ApiError naming the first offending field.
 */
export function parseVmSpec(v: unknown): VmSpec {
  const o = object(v, '', SPEC_FIELDS);
  const name = string(required(o, '', 'name'), 'name', 63);
  if (!NAME_RE.test(name)) throw E.badName(name);
  const spec: VmSpec = {
    name,
    vcpus: has(o, 'vcpus') ? integer(o.vcpus, 'vcpus', LIMITS.vcpus) : LIMITS.vcpus.default,
    memory_mib: has(o, 'memory_mib') ? integer(o.memory_mib, 'memory_mib', LIMITS.memory_mib) : LIMITS.memory_mib.default,
    disks: [],
    nics: [],
    weight: LIMITS.weight.default,
    cap: LIMITS.cap.default,
  };
  // firmware in flash boots what it finds: then no kernel is needed
  if (has(o, 'flash')) spec.flash = flash(o.flash, 'flash');
  if (has(o, 'kernel') || !spec.flash) spec.kernel = filePath(required(o, '', 'kernel'), 'kernel');
  // under tvisor's own SBI, EDK2 in flash does not get to its console: M-mode firmware (or none) starts it
  if (spec.flash && spec.kernel === undefined && !has(o, 'firmware')) {
    throw new E.ApiError('bad_request', 'firmware is required with flash and no kernel: OpenSBI\'s fw_dynamic.bin starts flash bank 0 in S-mode (as EDK2 expects), "none" starts it in M-mode on every hart');
  }
  if (has(o, 'initrd')) spec.initrd = filePath(o.initrd, 'initrd');
  if (has(o, 'cmdline')) {
    spec.cmdline = string(o.cmdline, 'cmdline', LIMITS.cmdlineLength);
    if (!CMDLINE_RE.test(spec.cmdline)) throw E.badCmdline();
  }
  // "none" (as QEMU's -bios none): no firmware, the kernel starts in M-mode; else a file's absolute path
  if (has(o, 'firmware')) spec.firmware = o.firmware === NO_FIRMWARE ? NO_FIRMWARE : filePath(o.firmware, 'firmware');
  if (has(o, 'disks')) spec.disks = array(o.disks, 'disks', LIMITS.disks.maxItems).map((d, i) => disk(d, `disks[${i}]`));
  if (has(o, 'nics')) spec.nics = array(o.nics, 'nics', LIMITS.nics.maxItems).map((n, i) => nic(n, `nics[${i}]`));
  if (has(o, 'weight')) spec.weight = integer(o.weight, 'weight', LIMITS.weight);
  if (has(o, 'cap')) spec.cap = integer(o.cap, 'cap', LIMITS.cap);
  return spec;
}

/**
 * The default guest's kernel command line. cryptomgr.notests skips the crypto self-tests Debian's kernel runs
 * in a background thread when an algorithm is first used (module signatures, Diffie-Hellman): interpreted,
 * they cost a guest tens of seconds of CPU after it reached its shell, which every VM on a host would pay.
 * earlycon=sbi prints through the SBI console until the UART driver starts, so a panic before it (too little
 * memory) is shown, and ends the VM (the end-of-panic line is watched for, see panic-detector.ts); it comes
 * after quiet, which must already hold when the early console replays the log.
 */
export const DEFAULT_CMDLINE = 'console=ttyS0 quiet earlycon=sbi cryptomgr.notests';
