// Every error the hypervisor's actions can end in, which is every error the HTTP API answers with: the code
// union, each code's HTTP status, and (here, in one place) the text of every message, so wording stays
// consistent and each message tells the client what to do instead.

/** The machine-readable `error.code` of an API error response; each maps to exactly one HTTP status. */
export type ApiErrorCode =
  | 'bad_request' // a field is missing, has the wrong type, is out of range, or the body is not what the route takes
  | 'invalid_json' // the body is not JSON at all
  | 'not_found' // no such route, or no VM with that id
  | 'conflict' // the VM's current state does not allow the action, or a unique name is taken
  | 'method_not_allowed' // the route exists but not with this method (the response carries Allow)
  | 'unsupported_media_type' // a body that is not application/json (UTF-8)
  | 'payload_too_large' // the body exceeds MAX_BODY_BYTES
  | 'forbidden_path' // a file outside the directories the daemon was told to allow
  | 'bad_kernel' // the kernel (or initrd/firmware) file exists but cannot be loaded
  | 'insufficient_memory' // the daemon's memory budget cannot hold the VM's memory besides the VMs defined already
  | 'bad_snapshot' // a snapshot file exists but cannot be restored: not a snapshot, corrupt, or its files changed since
  | 'snapshot_failed' // the host could not write a snapshot (disk full, I/O error); the VM goes on as asked
  | 'migration_failed' // a live migration could not be done; the message says where the VM is now
  | 'unauthorized' // missing or wrong API token
  | 'forbidden_origin' // a browser request from a page the daemon did not serve (another origin, or a host name it does not answer to)
  | 'internal'; // a bug or an unexpected host failure; details go to the daemon's log, not the client

/**
 * HTTP status of each code. insufficient_memory is 409 like conflict: the request clashes with the daemon's
 * current state (the definitions already fill its memory budget) and succeeds once that state changes; 507 is
 * WebDAV's "cannot store the representation", which this is not. Clients tell the two apart by error.code.
 */
export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden_path: 403,
  forbidden_origin: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  bad_kernel: 422,
  insufficient_memory: 409,
  bad_snapshot: 422,
  snapshot_failed: 500,
  migration_failed: 500,
  internal: 500,
};

export const API_ERROR_CODES = Object.keys(API_ERROR_STATUS) as ApiErrorCode[];

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ApiErrorCode; message: string };
}

/** An error to answer a request with. Construct it only through the factories below. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** For method_not_allowed: the methods the route takes, for the Allow header. */
    readonly allow?: readonly string[],
  ) {
    super(message);
    this.status = API_ERROR_STATUS[code];
  }
}

/** Shows a client's value in a message: numbers as they are, strings quoted and cut, anything else by its type. */
export function describeValue(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'boolean') return String(v);
  return `a ${typeof v}`;
}

const list = (xs: readonly string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`);

// ---- request shape ----

export function noRoute(path: string): ApiError {
  return new ApiError('not_found', `no such endpoint: ${path}; see GET /v1/openapi.json for the API`);
}

export function methodNotAllowed(method: string, path: string, allow: readonly string[]): ApiError {
  return new ApiError('method_not_allowed', `${method} is not supported on ${path}; use ${list(allow)}`, allow);
}

export function queryNotSupported(path: string): ApiError {
  return new ApiError('bad_request', `${path} takes no query parameters; remove the part after "?"`);
}

export function unknownQueryParameter(path: string, name: string, allowed: readonly string[]): ApiError {
  return new ApiError('bad_request', `${path} takes no query parameter ${describeValue(name)}; it takes ${list(allowed)}`);
}

export function repeatedQueryParameter(name: string): ApiError {
  return new ApiError('bad_request', `the query parameter ${describeValue(name)} is given twice; give it once`);
}

export function badQueryValue(name: string, got: string, expected: string): ApiError {
  return new ApiError('bad_request', `the query parameter ${name} must be ${expected}, got ${describeValue(got)}`);
}

export function payloadTooLarge(bytes: number, limit: number): ApiError {
  return new ApiError('payload_too_large', `the request body has ${bytes} bytes; at most ${limit} are accepted`);
}

export function unsupportedMediaType(contentType: string | undefined): ApiError {
  const got = contentType === undefined || contentType.trim() === '' ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType)}`;
  return new ApiError('unsupported_media_type', `the request body must be JSON in UTF-8 with Content-Type: application/json; got ${got}`);
}

export function bodyRequired(method: string, route: string): ApiError {
  return new ApiError('bad_request', `${method} ${route} needs a JSON object as its request body`);
}

export function bodyNotAllowed(method: string, route: string): ApiError {
  return new ApiError('bad_request', `${method} ${route} takes no request body; send none`);
}

export function invalidJson(detail: string): ApiError {
  return new ApiError('invalid_json', `the request body is not valid JSON (${detail})`);
}

// ---- field validation; `field` is a path such as disks[0].rate_limiter.ops.size ----

export function notAnObject(field: string, got: unknown): ApiError {
  return new ApiError('bad_request', `${field} must be a JSON object, got ${describeValue(got)}`);
}

export function notAnArray(field: string, got: unknown): ApiError {
  return new ApiError('bad_request', `${field} must be an array, got ${describeValue(got)}`);
}

export function tooManyItems(field: string, max: number, got: number): ApiError {
  return new ApiError('bad_request', `${field} may have at most ${max} entries, got ${got}`);
}

export function unknownField(where: string, name: string, allowed: readonly string[]): ApiError {
  const at = where === '' ? 'in the request body' : `in ${where}`;
  return new ApiError('bad_request', `unknown field ${JSON.stringify(name)} ${at}; allowed fields are ${list(allowed)}`);
}

export function missingField(field: string): ApiError {
  return new ApiError('bad_request', `${field} is required`);
}

export function emptyPatch(allowed: readonly string[]): ApiError {
  return new ApiError('bad_request', `the request body must set at least one of ${list(allowed)}`);
}

export function notInRange(field: string, min: number, max: number, got: unknown): ApiError {
  return new ApiError('bad_request', `${field} must be an integer from ${min} to ${max}, got ${describeValue(got)}`);
}

export function notABoolean(field: string, got: unknown): ApiError {
  return new ApiError('bad_request', `${field} must be true or false, got ${describeValue(got)}`);
}

export function notAString(field: string, got: unknown): ApiError {
  return new ApiError('bad_request', `${field} must be a string, got ${describeValue(got)}`);
}

export function tooLong(field: string, max: number, got: number): ApiError {
  return new ApiError('bad_request', `${field} may have at most ${max} characters, got ${got}`);
}

export function notOneOf(field: string, allowed: readonly string[], got: unknown): ApiError {
  return new ApiError('bad_request', `${field} must be one of ${list(allowed.map((a) => `"${a}"`))}, got ${describeValue(got)}`);
}

export function badDaemonUrl(got: string): ApiError {
  return new ApiError('bad_request', `to ${describeValue(got)} is not a daemon's address; give http://HOST:PORT, e.g. http://10.0.0.2:7477`);
}

export function tokenWithoutTo(): ApiError {
  return new ApiError('bad_request', 'token is the other daemon\'s API token: give it with to, or leave both out to migrate within this daemon');
}

export function badDiskName(field: string, got: string): ApiError {
  return new ApiError('bad_request', `${field}: ${describeValue(got)} is not a disk's name; disks are named vda, vdb, … in the order of the VM's definition`);
}

export function badName(got: string): ApiError {
  return new ApiError('bad_request', `name must be 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit; got ${describeValue(got)}`);
}

export function badCmdline(): ApiError {
  return new ApiError('bad_request', 'cmdline must not contain control characters (it becomes a NUL-terminated device-tree string)');
}

export function forwardsNeedUser(field: string): ApiError {
  return new ApiError('bad_request', `${field} needs "mode": "user" (a port on the virtual switch has nothing to forward from)`);
}

export function forwardTwice(field: string, proto: string, port: number): ApiError {
  return new ApiError('bad_request', `${field}: ${proto} port ${port} is forwarded twice`);
}

export function notAnAddress(field: string, got: string): ApiError {
  return new ApiError('bad_request', `${field} must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got ${describeValue(got)}`);
}

export function badMac(field: string, got: string): ApiError {
  return new ApiError('bad_request', `${field} must be a unicast MAC address written as six hex bytes like 52:54:00:12:34:56 (lowest bit of the first byte clear, not all zero); got ${describeValue(got)}`);
}

export function pathNotAbsolute(field: string, got: string): ApiError {
  return new ApiError('bad_request', `${field} must be an absolute path (starting with "/"), got ${describeValue(got)}`);
}

export function pathNotNormalised(field: string, got: string, normalised: string): ApiError {
  return new ApiError('bad_request', `${field} must be a normalised path without ".", ".." or empty components, got ${describeValue(got)}; write it as ${describeValue(normalised)}`);
}

export function pathHasNul(field: string): ApiError {
  return new ApiError('bad_request', `${field} must not contain NUL characters`);
}

export function readonlyWithOverlay(field: string): ApiError {
  return new ApiError('bad_request', `${field}: readonly and overlay exclude each other (the overlay takes the writes and the image stays unmodified); drop one of them`);
}

export function forbiddenPath(field: string, path: string, allowedDirs: readonly string[]): ApiError {
  const where = allowedDirs.length === 0
    ? 'the daemon allows no directories; start it with a directory to allow'
    : `it must lie under ${list(allowedDirs)}`;
  return new ApiError('forbidden_path', `${field} ${describeValue(path)} is not in a directory this daemon allows: ${where}`);
}

/** A file the spec names does not exist (or, for an overlay to create, its directory does not). */
export function fileMissing(field: string, path: string, detail: string): ApiError {
  return new ApiError('bad_request', `${field} ${describeValue(path)}: ${detail}; give the path of an existing file`);
}

/** A file the spec names exists but cannot be used: a FIFO, directory, device, symlink, hard link, empty disk... */
export function fileUnusable(field: string, path: string, detail: string): ApiError {
  return new ApiError('bad_request', `${field} ${describeValue(path)}: ${detail}`);
}

/** A file whose directory or real location (through symlinks) lies outside the allowed directories. */
export function fileOutside(field: string, path: string, detail: string): ApiError {
  return new ApiError('forbidden_path', `${field} ${describeValue(path)}: ${detail}`);
}

/** Starting would give a second running VM of this daemon write access to the same image (same device and inode). */
export function diskInUse(field: string, path: string, holderId: string, holderName: string, holderPath: string): ApiError {
  const same = holderPath === path ? '' : ` (as ${describeValue(holderPath)}: the same file)`;
  return new ApiError('conflict', `${field} ${describeValue(path)} is in use by VM ${holderId} (${holderName})${same}, and two VMs must not both write one image; stop that VM first, or give this disk an overlay or make it readonly (and that VM's too)`);
}

// ---- VMs and their states ----

export function vmNotFound(id: string): ApiError {
  return new ApiError('not_found', `no VM with id ${describeValue(id)}; GET /v1/vms lists them`);
}

/** The path names a disk or NIC index no VM can have (not a decimal number, or not below the most it may have). */
export function badDeviceIndex(device: 'disk' | 'nic', index: string, max: number): ApiError {
  return new ApiError('not_found', `no ${device} ${describeValue(index)}: a ${device} index is a whole number from 0 to ${max - 1} (no leading zeros)`);
}

/** VM `id` has `count` disks (or NICs), none at `index`. */
export function deviceNotFound(id: string, device: 'disk' | 'nic', index: number, count: number): ApiError {
  const has = count === 0
    ? `it has no ${device}s`
    : `its ${count === 1 ? `${device} is` : `${count} ${device}s are`} numbered from 0 in the order of its definition (GET /v1/vms/${id} shows them)`;
  return new ApiError('not_found', `VM ${id} has no ${device} ${index}; ${has}`);
}

/** `allowedStates` is never empty: every action is allowed in some state. */
export function wrongState(action: string, id: string, state: string, allowedStates: readonly string[]): ApiError {
  return new ApiError('conflict', `cannot ${action} VM ${id}: it is ${state}; ${action} is allowed only when it is ${list(allowedStates)}`);
}

export function nameInUse(name: string, id: string): ApiError {
  return new ApiError('conflict', `a VM named ${describeValue(name)} already exists (id ${id}); choose another name or delete it first`);
}

export function balloonTooLarge(balloonMib: number, memoryMib: number): ApiError {
  return new ApiError('bad_request', `balloon_mib ${balloonMib} must be less than the VM's memory_mib ${memoryMib}`);
}

export function badKernel(field: string, path: string, why: string): ApiError {
  return new ApiError('bad_kernel', `${field} ${describeValue(path)} cannot be loaded: ${why}`);
}

/** Every defined VM holds its memory_mib of the budget, whatever its state, until it is deleted. */
export function insufficientMemory(requestedMib: number, freeMib: number, budgetMib: number): ApiError {
  return new ApiError(
    'insufficient_memory',
    `the VM needs ${requestedMib} MiB but only ${Math.max(0, freeMib)} MiB of the daemon's ${budgetMib} MiB memory budget are free ` +
      '(every defined VM counts, stopped ones too); delete VMs you no longer need, ask for less memory, ' +
      'or restart the daemon with a larger --memory-budget',
  );
}

// ---- snapshots ----

export function badSnapshot(field: string, path: string, why: string): ApiError {
  return new ApiError('bad_snapshot', `${field} ${describeValue(path)} cannot be restored: ${why}`);
}

/** The host could not write the snapshot; `after` says what became of the VM. */
export function snapshotFailed(path: string, why: string, after: string): ApiError {
  return new ApiError('snapshot_failed', `could not save the VM to ${describeValue(path)}: ${why}; ${after}`);
}

/** A live migration that could not be done; `after` says what became of the VM. */
export function migrationFailed(id: string, why: string, after: string): ApiError {
  return new ApiError('migration_failed', `could not migrate VM ${id}: ${why}; ${after}`);
}

/** A VM that cannot be saved now (it waits for its thread). */
export function snapshotUnsupported(id: string, why: string): ApiError {
  return new ApiError('conflict', `cannot snapshot VM ${id}: ${why}`);
}

/** A field of a restore that the snapshot decides. */
export function fromSnapshot(field: string): ApiError {
  return new ApiError('bad_request', `${field} comes from the snapshot when restoring one; leave it out (only name, weight, cap and overlays may be given)`);
}

export function unauthorized(): ApiError {
  return new ApiError('unauthorized', 'missing or wrong API token; send it as Authorization: Bearer TOKEN');
}

/** A request a web page of another origin made (cross-site request or WebSocket, or DNS rebinding). */
export function forbiddenOrigin(why: string): ApiError {
  return new ApiError('forbidden_origin', `refused a request from a web page: ${why}; only the daemon's own web console (or a client that is not a browser) may use the API`);
}

/** The message deliberately carries no detail: internals (paths, stack traces) stay in the daemon's log. */
export function internal(): ApiError {
  return new ApiError('internal', 'internal error in the daemon; its log has the details');
}

// ---- responses ----

/** Anything thrown while handling a request, as an ApiError: unexpected errors become `internal`. */
export function toApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : internal();
}

/** The JSON body to send for anything thrown while handling a request (status: toApiError(e).status). */
export function toBody(e: unknown): ErrorBody {
  const err = toApiError(e);
  return { error: { code: err.code, message: err.message } };
}
