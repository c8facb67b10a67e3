// Fuzz target: the HTTP API's request parser (parseRequest) against the OpenAPI document's JSON Schemas. Any
// request must either give an action or throw an ApiError with a message; a body sent to a body route must be
// accepted exactly when the documented schema accepts it, and an accepted one must validate with defaults.
import { ApiError } from '../../src/hypervisor/errors.js';
import { LIMITS, MAX_BODY_BYTES, parseRequest, ROUTES, type VmAction } from '../../src/api/actions.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { validateSchema, type Schema } from '../../src/api/schema.js';
import { Bytes, expectOnly } from '../lib/bytes.js';

const doc = openApiDocument();
const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'get', ''];
const TYPES = [undefined, 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON;charset="UTF-8"', 'text/plain', 'application/json; charset=latin1', ''];
const SCHEMA_OF = { spec: 'CreateVm', patch: 'VmPatch', device: 'DevicePatch', snapshot: 'SnapshotRequest', migrate: 'MigrateRequest' } as const;
const decoder = new TextDecoder();

function text(b: Bytes, max: number): string {
  return decoder.decode(b.bytes(b.below(max + 1)));
}

function requestPath(b: Bytes): string {
  if (b.u8() % 4 === 0) return text(b, 40);
  const route = b.pick(ROUTES);
  let p = route.path
    .replace('{id}', b.bool() ? '0123abcd' : text(b, 10))
    .replace('{index}', b.bool() ? String(b.u8() % 20) : text(b, 4));
  if (b.u8() % 8 === 0) p += '?' + text(b, 4);
  return p;
}

/** The body the action carries, to check against its schema with defaults filled in. */
function bodyOf(a: VmAction): unknown {
  switch (a.kind) {
    case 'create': return a.spec;
    case 'restore': return a.request;
    case 'snapshot': return a.request;
    case 'migrate': return a.request;
    case 'update': return a.patch;
    case 'update-disk':
    case 'update-nic': return a.patch;
    default: return undefined;
  }
}

export function fuzz(data: Uint8Array): void {
  const b = new Bytes(data);
  const method = b.pick(METHODS);
  const path = requestPath(b);
  const contentType = b.pick(TYPES);
  const body = b.bool() ? undefined : decoder.decode(b.rest());
  let action: VmAction | null = null;
  try {
    action = parseRequest(method, path, contentType, body);
  } catch (e) {
    expectOnly(e, ApiError);
  }
  // the differential check: a well-routed JSON body is judged as its schema judges it
  const route = ROUTES.find((r) => r.method === method && new RegExp(`^${r.path.replace(/\{id\}/, '[0-9a-f]{8}').replace(/\{index\}/, '(0|[1-9][0-9]?)')}$`).test(path));
  if (!route || route.body === 'none' || contentType !== 'application/json' || body === undefined) return;
  if (Buffer.byteLength(body) > MAX_BODY_BYTES || body.trim() === '') return;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    if (action) throw new Error(`accepted a body that is not JSON: ${body}`);
    return;
  }
  const schema: Schema = { $ref: `#/components/schemas/${SCHEMA_OF[route.body]}` };
  const why = validateSchema(doc, schema, json);
  const index = /\/(disks|nics)\/(\d+)$/.exec(path);
  const most = index?.[1] === 'disks' ? LIMITS.disks.maxItems : LIMITS.nics.maxItems;
  if (index && Number(index[2]) >= most) return; // beyond the most devices: a 404 the schema does not speak of
  if (action === null && why === null) throw new Error(`refused a body its schema accepts: ${body}`);
  if (action !== null && why !== null) throw new Error(`accepted a body its schema refuses (${why}): ${body}`);
  if (action !== null) {
    const out = validateSchema(doc, schema, bodyOf(action));
    if (out !== null) throw new Error(`the parsed body does not validate (${out}): ${JSON.stringify(bodyOf(action))}`);
  }
}
