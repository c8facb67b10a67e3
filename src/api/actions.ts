// The HTTP API's requests as the hypervisor's typed VmAction union (hypervisor/model.ts): routing, strict
// validation of request bodies (a VM definition's is hypervisor/spec.ts's), and the check that client-named
// files lie in allowed directories.
// Nothing here touches a VM: a request that fails here has changed nothing.
import * as E from '../hypervisor/errors.js';
import type { VmAction, VmActionKind, VmPatch, DevicePatch, RestoreRequest, SnapshotRequest, MigrateRequest } from '../hypervisor/model.js';
import {
  LIMITS, VM_ID_PATTERN, NAME_RE, SPEC_FIELDS, object, has, integer, string, required, filePath, rateLimiter, parseVmSpec,
} from '../hypervisor/spec.js';

// ---- the domain model (hypervisor/model.ts): the data the API speaks and its actions ----

export * from '../hypervisor/model.js';

// ---- a VM definition's validation, limits and syntax (hypervisor/spec.ts), shared with the OpenAPI document ----

export {
  LIMITS, PATH_PATTERN, CMDLINE_PATTERN, MAC_PATTERN, MAC_ZERO, VM_ID_PATTERN, IP_PATTERN, parseVmSpec,
} from '../hypervisor/spec.js';

/** At most this many bytes of request body; the server should stop reading beyond it. */
export const MAX_BODY_BYTES = 64 * 1024;

const VM_ID_RE = new RegExp(VM_ID_PATTERN, 'u');

// ---- routing ----

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
  method: HttpMethod;
  /** OpenAPI path template; `{id}` is a VM id, `{index}` a disk's or NIC's position in the definition. */
  path: string;
  kind: VmActionKind;
  /** What the request body must be: none, a VmSpec (or a RestoreRequest), a VmPatch, a DevicePatch, a SnapshotRequest, a MigrateRequest. */
  body: 'none' | 'spec' | 'patch' | 'device' | 'snapshot' | 'migrate';
  /** The query parameters it takes; absent: none (any query is 400). */
  query?: readonly string[];
}

/** Route bodies a request may leave out (an empty body). */
const OPTIONAL_BODIES: readonly Route['body'][] = ['migrate'];

/** The query parameters of GET /v1/vms/{id}/logs. */
export const LOGS_QUERY = ['follow', 'tail'] as const;
/** The most lines `tail` may ask for (the kept output is 64 KiB: it has fewer). */
export const LOGS_TAIL_MAX = 100_000;

/** The query parameter of GET /v1/stats, and its bounds (milliseconds between samples). */
export const STATS_QUERY = ['interval_ms'] as const;
export const STATS_INTERVAL_MS = { min: 200, max: 60_000, default: 1000 } as const;

/** Every endpoint; the OpenAPI document describes exactly these (its test checks). */
export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/vms', kind: 'list', body: 'none' },
  { method: 'POST', path: '/v1/vms', kind: 'create', body: 'spec' },
  { method: 'GET', path: '/v1/vms/{id}', kind: 'get', body: 'none' },
  { method: 'PATCH', path: '/v1/vms/{id}', kind: 'update', body: 'patch' },
  { method: 'PATCH', path: '/v1/vms/{id}/disks/{index}', kind: 'update-disk', body: 'device' },
  { method: 'PATCH', path: '/v1/vms/{id}/nics/{index}', kind: 'update-nic', body: 'device' },
  { method: 'DELETE', path: '/v1/vms/{id}', kind: 'delete', body: 'none' },
  { method: 'POST', path: '/v1/vms/{id}/start', kind: 'start', body: 'none' },
  { method: 'POST', path: '/v1/vms/{id}/pause', kind: 'pause', body: 'none' },
  { method: 'POST', path: '/v1/vms/{id}/resume', kind: 'resume', body: 'none' },
  { method: 'POST', path: '/v1/vms/{id}/stop', kind: 'stop', body: 'none' },
  { method: 'POST', path: '/v1/vms/{id}/restart', kind: 'restart', body: 'none' },
  { method: 'POST', path: '/v1/vms/{id}/snapshot', kind: 'snapshot', body: 'snapshot' },
  { method: 'POST', path: '/v1/vms/{id}/migrate', kind: 'migrate', body: 'migrate' },
  { method: 'GET', path: '/v1/migrations/incoming', kind: 'migration-incoming', body: 'none' },
  { method: 'GET', path: '/v1/vms/{id}/logs', kind: 'logs', body: 'none', query: LOGS_QUERY },
  { method: 'GET', path: '/v1/events', kind: 'events', body: 'none' },
  { method: 'GET', path: '/v1/stats', kind: 'stats', body: 'none', query: STATS_QUERY },
  { method: 'GET', path: '/v1/images', kind: 'images', body: 'none' },
  { method: 'GET', path: '/v1/vms/{id}/console', kind: 'console', body: 'none' },
  { method: 'GET', path: '/metrics', kind: 'metrics', body: 'none' },
  { method: 'GET', path: '/v1/openapi.json', kind: 'openapi', body: 'none' },
];

function matchTemplate(template: string, segments: string[]): { ok: boolean; id?: string; index?: string } {
  const parts = template.split('/');
  if (parts.length !== segments.length) return { ok: false };
  let id: string | undefined;
  let index: string | undefined;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '{id}' || parts[i] === '{index}') {
      if (segments[i] === '') return { ok: false };
      if (parts[i] === '{id}') id = segments[i];
      else index = segments[i];
    } else if (parts[i] !== segments[i]) {
      return { ok: false };
    }
  }
  return { ok: true, id, index };
}

/** Device indices in paths: decimal without leading zeros (the OpenAPI parameters say the same). */
const INDEX_RE = /^(0|[1-9][0-9]{0,5})$/;

/** The device index a path names, or the 404 for one that no VM can have (the VM's own count is the manager's check). */
function deviceIndex(device: 'disk' | 'nic', text: string): number {
  const max = device === 'disk' ? LIMITS.disks.maxItems : LIMITS.nics.maxItems;
  if (!INDEX_RE.test(text) || Number(text) >= max) throw E.badDeviceIndex(device, text, max);
  return Number(text);
}

/**
 * Turns one HTTP request into the action it asks for, or throws the ApiError to answer with. Checked in this
 * order: route (404), method (405), query (400), body size (413), body presence, media type (415), JSON (400
 * invalid_json), fields (400). A VM id that cannot exist (not VM_ID_PATTERN) is 404 here; whether an
 * existing VM has it, and whether its state allows the action (stateError), is the VM manager's to check.
 * A device index that cannot exist (not decimal, or beyond the most disks or NICs a VM may have) is 404 too.
 * Bodies are only taken by POST /v1/vms and the PATCH routes; elsewhere any non-empty body is refused.
 * JSON with duplicate keys is read as JSON.parse does (the last one wins).
 */
export function parseRequest(method: string, path: string, contentType: string | undefined, body: string | undefined): VmAction {
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  const segments = pathname.split('/');
  const matches = ROUTES.map((r) => ({ r, m: matchTemplate(r.path, segments) })).filter((x) => x.m.ok);
  if (matches.length === 0) throw E.noRoute(pathname);
  const hit = matches.find((x) => x.r.method === method);
  if (!hit) throw E.methodNotAllowed(method, pathname, [...new Set(matches.map((x) => x.r.method))].sort());
  const { r: route, m } = hit;
  const query = q >= 0 && q < path.length - 1 ? path.slice(q + 1) : '';
  if (query !== '' && !route.query) throw E.queryNotSupported(pathname);
  if (m.id !== undefined && !VM_ID_RE.test(m.id)) throw E.vmNotFound(m.id);
  const device = route.kind === 'update-disk' ? 'disk' : 'nic';
  const index = m.index === undefined ? -1 : deviceIndex(device, m.index);

  const text = body ?? '';
  const bytes = utf8Length(text);
  if (bytes > MAX_BODY_BYTES) throw E.payloadTooLarge(bytes, MAX_BODY_BYTES);
  // a migration's body is optional: none moves the VM within this daemon
  const absent = route.body === 'none' || (OPTIONAL_BODIES.includes(route.body) && text === '');
  if (route.body === 'none') {
    if (text !== '') throw E.bodyNotAllowed(method, route.path);
  } else if (!absent) {
    if (text.trim() === '') throw E.bodyRequired(method, route.path);
    if (!isJsonMediaType(contentType)) throw E.unsupportedMediaType(contentType);
  }
  const json = absent ? undefined : parseJson(text);
  const id = m.id as string; // present exactly on the {id} routes
  switch (route.kind) {
    case 'create':
    case 'restore':
      return isRestore(json) ? { kind: 'restore', request: parseRestoreRequest(json) } : { kind: 'create', spec: parseVmSpec(json) };
    case 'snapshot': return { kind: 'snapshot', id, request: parseSnapshotRequest(json) };
    case 'update': return { kind: 'update', id, patch: parseVmPatch(json) };
    case 'update-disk':
    case 'update-nic':
      return { kind: route.kind, id, index, patch: parseDevicePatch(json) };
    case 'list': return { kind: 'list' };
    case 'metrics': return { kind: 'metrics' };
    case 'openapi': return { kind: 'openapi' };
    case 'get': return { kind: 'get', id };
    case 'delete': return { kind: 'delete', id };
    case 'console': return { kind: 'console', id };
    case 'logs': return { kind: 'logs', id, ...logsQuery(pathname, query) };
    case 'events': return { kind: 'events' };
    case 'stats': return { kind: 'stats', intervalMs: statsQuery(pathname, query) };
    case 'images': return { kind: 'images' };
    case 'start':
    case 'pause':
    case 'resume':
    case 'stop':
    case 'restart':
      return { kind: route.kind, id };
    case 'migrate': return { kind: 'migrate', id, request: parseMigrateRequest(json) };
    case 'migration-incoming': return { kind: 'migration-incoming' };
  }
}

/** The query of GET /v1/vms/{id}/logs: follow=true|false|1|0 (bare `follow` is true), tail=N lines. */
function logsQuery(pathname: string, query: string): { follow: boolean; tail?: number } {
  const out: { follow: boolean; tail?: number } = { follow: false };
  const seen = new Set<string>();
  for (const [key, value] of new URLSearchParams(query)) {
    if (!(LOGS_QUERY as readonly string[]).includes(key)) throw E.unknownQueryParameter(pathname, key, LOGS_QUERY);
    if (seen.has(key)) throw E.repeatedQueryParameter(key);
    seen.add(key);
    if (key === 'follow') {
      if (!['', 'true', 'false', '1', '0'].includes(value)) throw E.badQueryValue('follow', value, 'true or false');
      out.follow = value === '' || value === 'true' || value === '1';
    } else {
      const n = /^(0|[1-9][0-9]{0,5})$/.test(value) ? Number(value) : NaN;
      if (!(n <= LOGS_TAIL_MAX)) throw E.badQueryValue('tail', value, `a whole number of lines from 0 to ${LOGS_TAIL_MAX}`);
      out.tail = n;
    }
  }
  return out;
}

/** The query of GET /v1/stats: interval_ms=N, milliseconds between samples. */
function statsQuery(pathname: string, query: string): number {
  let interval: number = STATS_INTERVAL_MS.default;
  const seen = new Set<string>();
  for (const [key, value] of new URLSearchParams(query)) {
    if (!(STATS_QUERY as readonly string[]).includes(key)) throw E.unknownQueryParameter(pathname, key, STATS_QUERY);
    if (seen.has(key)) throw E.repeatedQueryParameter(key);
    seen.add(key);
    const n = /^[1-9][0-9]{0,5}$/.test(value) ? Number(value) : NaN;
    if (!(n >= STATS_INTERVAL_MS.min && n <= STATS_INTERVAL_MS.max)) {
      throw E.badQueryValue('interval_ms', value, `a whole number of milliseconds from ${STATS_INTERVAL_MS.min} to ${STATS_INTERVAL_MS.max}`);
    }
    interval = n;
  }
  return interval;
}

/** application/json, any case, with at most a charset parameter that says UTF-8 (JSON is UTF-8 by RFC 8259). */
function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => p === '' || /^charset="?utf-8"?$/.test(p));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw E.invalidJson((e as Error).message);
  }
}

/** UTF-8 length without encoding (a lone surrogate counts 3, as its U+FFFD replacement would). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

// ---- body validation ----

const PATCH_FIELDS = ['weight', 'cap', 'balloon_mib'] as const;
const DEVICE_PATCH_FIELDS = ['rate_limiter'] as const;

const RESTORE_FIELDS = ['snapshot', 'name', 'overlays', 'weight', 'cap'] as const;
const SNAPSHOT_FIELDS = ['path', 'after', 'compress'] as const;
const AFTER_SNAPSHOT = ['running', 'paused', 'stopped'] as const;
/** The guest's disk names (vda … vdp: LIMITS.disks.maxItems of them). */
const DISK_NAME_RE = /^vd[a-p]$/;

/** A body of POST /v1/vms that names a snapshot asks to restore one, not to define a machine. */
function isRestore(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, 'snapshot');
}

/**
 * Validates a body of POST /v1/vms with `snapshot`: the machine comes from the snapshot, so of a definition's
 * fields only name, weight and cap may be given (the others are refused, naming the field), plus the paths
 * of the new overlays by disk name. Whether the file is a usable snapshot is the manager's check.
 */
export function parseRestoreRequest(v: unknown): RestoreRequest {
  const o = object(v, '', [...RESTORE_FIELDS, ...SPEC_FIELDS]);
  for (const k of Object.keys(o)) if (!(RESTORE_FIELDS as readonly string[]).includes(k)) throw E.fromSnapshot(k);
  const r: RestoreRequest = { snapshot: filePath(o.snapshot, 'snapshot') };
  if (has(o, 'name')) {
    r.name = string(o.name, 'name', 63);
    if (!NAME_RE.test(r.name)) throw E.badName(r.name);
  }
  if (has(o, 'overlays')) {
    const ov = object(o.overlays, 'overlays', Object.keys(o.overlays as object ?? {}));
    r.overlays = {};
    for (const [disk, p] of Object.entries(ov)) {
      if (!DISK_NAME_RE.test(disk)) throw E.badDiskName(`overlays.${disk}`, disk);
      r.overlays[disk] = filePath(p, `overlays.${disk}`);
    }
  }
  if (has(o, 'weight')) r.weight = integer(o.weight, 'weight', LIMITS.weight);
  if (has(o, 'cap')) r.cap = integer(o.cap, 'cap', LIMITS.cap);
  return r;
}

const MIGRATE_FIELDS = ['to', 'token'] as const;
/** Another daemon's address: http://HOST:PORT (a name, IPv4 or bracketed IPv6), nothing after it. */
export const DAEMON_URL_PATTERN = '^http://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}$';
const DAEMON_URL_RE = new RegExp(DAEMON_URL_PATTERN, 'u');
export const TOKEN_MAX_LENGTH = 512;

/** Validates the body of POST /v1/vms/{id}/migrate (none, or {} : to a thread of its own). */
export function parseMigrateRequest(v: unknown): MigrateRequest {
  if (v === undefined) return {};
  const o = object(v, '', MIGRATE_FIELDS);
  const r: MigrateRequest = {};
  if (has(o, 'to')) {
    r.to = string(o.to, 'to', 256);
    if (!DAEMON_URL_RE.test(r.to)) throw E.badDaemonUrl(r.to);
  }
  if (has(o, 'token')) {
    r.token = string(o.token, 'token', TOKEN_MAX_LENGTH);
    if (!has(o, 'to')) throw E.tokenWithoutTo();
  }
  return r;
}

/** Validates the body of POST /v1/vms/{id}/snapshot. */
export function parseSnapshotRequest(v: unknown): SnapshotRequest {
  const o = object(v, '', SNAPSHOT_FIELDS);
  const r: SnapshotRequest = { path: filePath(required(o, '', 'path'), 'path') };
  if (has(o, 'after')) {
    if (!(AFTER_SNAPSHOT as readonly unknown[]).includes(o.after)) throw E.notOneOf('after', AFTER_SNAPSHOT, o.after);
    r.after = o.after as SnapshotRequest['after'];
  }
  if (has(o, 'compress')) {
    if (typeof o.compress !== 'boolean') throw E.notABoolean('compress', o.compress);
    r.compress = o.compress;
  }
  return r;
}

/** Validates the body of PATCH /v1/vms/{id}. Whether balloon_mib fits the VM's memory is the manager's check. */
export function parseVmPatch(v: unknown): VmPatch {
  const o = object(v, '', PATCH_FIELDS);
  if (Object.keys(o).length === 0) throw E.emptyPatch(PATCH_FIELDS);
  const p: VmPatch = {};
  if (has(o, 'weight')) p.weight = integer(o.weight, 'weight', LIMITS.weight);
  if (has(o, 'cap')) p.cap = integer(o.cap, 'cap', LIMITS.cap);
  if (has(o, 'balloon_mib')) p.balloon_mib = integer(o.balloon_mib, 'balloon_mib', LIMITS.balloon_mib);
  return p;
}

/**
 * Validates the body of PATCH /v1/vms/{id}/disks/{index} and /nics/{index}: `rate_limiter` is required (an
 * object as at create, or null); whether the VM has that device is the manager's check.
 */
export function parseDevicePatch(v: unknown): DevicePatch {
  const o = object(v, '', DEVICE_PATCH_FIELDS);
  const r = required(o, '', 'rate_limiter');
  return { rate_limiter: r === null ? null : rateLimiter(r, 'rate_limiter') };
}

// ---- allowed directories (hypervisor/paths.ts) ----

export { specPaths, checkAllowedPaths, checkPathsAllowed } from '../hypervisor/paths.js';
