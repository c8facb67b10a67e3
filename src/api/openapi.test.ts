// Tests of the OpenAPI document: it is self-consistent ($refs resolve, routes match ROUTES both ways) and its
// request schemas accept exactly what parseRequest accepts, checked on bodies generated from the schemas and on
// random mutations of them, with a small JSON Schema validator for the keywords the document uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openApiDocument } from './openapi.js';
import { schemaPointer, validateSchema, type ApiDocument, type Schema } from './schema.js';
import { ApiError, API_ERROR_CODES, API_ERROR_STATUS } from '../hypervisor/errors.js';
import { MAX_BODY_BYTES, ROUTES, VM_ID_PATTERN, parseRequest, type VmAction } from './actions.js';

const doc = openApiDocument() as ApiDocument;

const pointer = (root: unknown, ref: string): unknown => schemaPointer(root, ref);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const validate = (s: Schema, v: unknown): boolean => validateSchema(doc, s, v) === null;

const resolve = (s: Schema): Schema => (typeof s.$ref === 'string' ? resolve(pointer(doc, s.$ref) as Schema) : s);

/** `v` with the schema's defaults filled in where a property is absent (what parseRequest should return). */
function withDefaults(s: Schema, v: unknown): unknown {
  s = resolve(s);
  // alternatives of a value's type (firmware: a path or "none"); an object's anyOf only adds requirements
  if (s.anyOf && s.type === undefined) return withDefaults((s.anyOf as Schema[]).find((alt) => validate(alt, v)) ?? {}, v);
  if (Array.isArray(v) && s.items) return v.map((x) => withDefaults(s.items as Schema, x));
  if (!isObject(v) || !s.properties) return v;
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(s.properties as Record<string, Schema>)) {
    if (Object.hasOwn(v, k)) out[k] = withDefaults(p, v[k]);
    else if ('default' in p) out[k] = structuredClone(p.default);
  }
  return out;
}

// ---- generating values from a schema ----

function integerArb(min: number, max: number): fc.Arbitrary<number> {
  const edges = fc.constantFrom(min, max, Math.min(max, min + 1));
  const any = max - min <= 0x7fffffff ? fc.integer({ min, max }) : fc.bigInt(BigInt(min), BigInt(max)).map(Number);
  return fc.oneof(edges, any);
}

/** Candidates mostly valid for `s`; callers keep only those validate() accepts. */
function arb(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  s = resolve(s);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  // (an object's anyOf, fields it requires one of, is met by the filter validArb applies)
  if (s.anyOf && s.type === undefined) return fc.oneof(...(s.anyOf as Schema[]).map((alt) => arb(alt, depth + 1)));
  switch (s.type) {
    case 'null': return fc.constant(null);
    case 'integer': return integerArb(s.minimum as number, s.maximum as number);
    case 'boolean': return fc.boolean();
    case 'string': {
      const max = (s.maxLength as number | undefined) ?? 64;
      const base = typeof s.pattern === 'string' ? fc.stringMatching(new RegExp(s.pattern, 'u')) : fc.string({ maxLength: max });
      return base.filter((x) => [...x].length <= max);
    }
    case 'array': return fc.array(arb(s.items as Schema, depth + 1), { maxLength: Math.min((s.maxItems as number) ?? 3, 3) });
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const model = Object.fromEntries(Object.entries(props).map(([k, p]) => [k, arb(p, depth + 1)]));
      return fc.record(model, { requiredKeys: (s.required ?? []) as never[] });
    }
    default: throw new Error(`generator: no arbitrary for ${JSON.stringify(s)}`);
  }
}

const validArb = (s: Schema) => arb(s).filter((v) => validate(s, v));

/** Values that sit on or just past the limits, of every JSON type. */
const interesting = fc.oneof(
  fc.constantFrom(-1, 0, 1, 1.5, 8, 9, 15, 16, 2048, 2049, 256, 65535, 65536, 800, 801, 86_400_000, 86_400_001, 2 ** 53 - 1, 2 ** 53, -0),
  fc.constantFrom('', 'a', '/', '/a', '/a/', '/a/../b', '/a/./b', 'a/b', '/a\u0000b', '52:54:00:12:34:56', '00:00:00:00:00:00', '53:00:00:00:00:00', '-a', 'a\tb', true, false, null),
  fc.jsonValue({ maxDepth: 2 }),
);
const extraKey = fc.oneof(fc.constantFrom('path', 'size', 'mac', 'weight', 'name', 'ops', 'readonly', 'overlay', 'balloon_mib', 'memory'), fc.string({ maxLength: 6 }));

/** Every place in `v` a value sits: [container, key]. */
function places(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); places(x, out); });
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) { out.push([v, k]); places(x, out); }
  return out;
}

/** A small change of a leaf: a boolean flipped, an integer moved by one, a string given one more character. */
function nudge(x: unknown, pick: number): unknown {
  if (typeof x === 'boolean') return !x;
  if (typeof x === 'number') return pick % 2 ? x + 1 : x - 1;
  if (typeof x === 'string') return x + '/. :\u0000a'[pick % 6];
  return x;
}

/** One random edit of a valid value: replace, delete, nudge, or add a field somewhere (possibly keeping it valid). */
function mutant(s: Schema): fc.Arbitrary<unknown> {
  return fc.tuple(validArb(s), fc.nat(), fc.nat(3), interesting, extraKey).map(([v0, pick, op, value, key]) => {
    const v = structuredClone(v0) as Record<string, unknown>;
    const ps = places(v);
    const objects: Record<string, unknown>[] = [v, ...ps.map(([c, k]) => (c as Record<string, unknown>)[k as string]).filter(isObject)];
    if (op === 3 || ps.length === 0) {
      objects[pick % objects.length][key] = value;
      return v;
    }
    const [container, k] = ps[pick % ps.length] as [Record<string | number, unknown>, string | number];
    if (op === 2) container[k] = nudge(container[k], pick);
    else if (op === 1 && !Array.isArray(container)) delete container[k];
    else container[k] = value;
    return v;
  });
}

function accepts(method: string, path: string, body: string): VmAction | ApiError {
  try {
    return parseRequest(method, path, 'application/json', body);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
}

const bodyRoutes = [
  { method: 'POST', path: '/v1/vms', schema: 'CreateVm', out: (a: VmAction) => (a.kind === 'create' ? a.spec : a.kind === 'restore' ? a.request : undefined) },
  { method: 'POST', path: '/v1/vms/0123abcd/snapshot', schema: 'SnapshotRequest', out: (a: VmAction) => (a.kind === 'snapshot' ? a.request : undefined) },
  { method: 'POST', path: '/v1/vms/0123abcd/migrate', schema: 'MigrateRequest', out: (a: VmAction) => (a.kind === 'migrate' ? a.request : undefined) },
  { method: 'PATCH', path: '/v1/vms/0123abcd', schema: 'VmPatch', out: (a: VmAction) => (a.kind === 'update' ? a.patch : undefined) },
  { method: 'PATCH', path: '/v1/vms/0123abcd/disks/3', schema: 'DevicePatch', out: (a: VmAction) => (a.kind === 'update-disk' && a.index === 3 ? a.patch : undefined) },
  { method: 'PATCH', path: '/v1/vms/0123abcd/nics/0', schema: 'DevicePatch', out: (a: VmAction) => (a.kind === 'update-nic' && a.index === 0 ? a.patch : undefined) },
] as const;

/** The request body schema of each kind of Route.body. */
const BODY_SCHEMA = { spec: 'CreateVm', patch: 'VmPatch', device: 'DevicePatch', snapshot: 'SnapshotRequest', migrate: 'MigrateRequest' } as const;

// ---- the tests ----

test('every $ref resolves, and the document round-trips through JSON', () => {
  const refs: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObject(v)) for (const [k, x] of Object.entries(v)) (k === '$ref' ? refs.push(x as string) : walk(x));
  };
  walk(doc);
  assert.ok(refs.length > 20);
  for (const r of refs) assert.notEqual(pointer(doc, r), undefined, `unresolved ${r}`);
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  assert.equal((doc as unknown as { openapi: string }).openapi, '3.1.0');
  // each call gives a fresh document
  (openApiDocument() as ApiDocument).paths['/v1/vms'] = {};
  assert.deepEqual(openApiDocument(), doc);
});

test('the document has exactly the routes parseRequest has, with bodies where it takes them', () => {
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const inDoc = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).filter((m) => methods.includes(m)).map((m) => `${m.toUpperCase()} ${p}`));
  assert.deepEqual(inDoc.sort(), ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  const opIds = new Set<string>();
  for (const r of ROUTES) {
    const item = doc.paths[r.path];
    const op = item[r.method.toLowerCase()] as Record<string, unknown>;
    assert.ok(!opIds.has(op.operationId as string), `duplicate operationId ${op.operationId}`);
    opIds.add(op.operationId as string);
    const params = [...((item.parameters ?? []) as Schema[]), ...((op.parameters ?? []) as Schema[])].map((p) => resolve(p));
    assert.equal(params.some((p) => p.name === 'id' && p.in === 'path'), r.path.includes('{id}'), `id parameter of ${r.method} ${r.path}`);
    assert.equal(params.some((p) => p.name === 'index' && p.in === 'path'), r.path.includes('{index}'), `index parameter of ${r.method} ${r.path}`);
    const body = op.requestBody as { content: Record<string, { schema: Schema }> } | undefined;
    assert.equal(body !== undefined, r.body !== 'none', `request body of ${r.method} ${r.path}`);
    if (body && r.body !== 'none') assert.equal(body.content['application/json'].schema.$ref, `#/components/schemas/${BODY_SCHEMA[r.body]}`);
    const responses = op.responses as Record<string, unknown>;
    assert.ok(Object.keys(responses).some((s) => /^[12]\d\d$/.test(s)), `success response of ${r.method} ${r.path}`);
    for (const must of ['400', '404', '405', '413', '500']) assert.ok(responses[must], `${must} of ${r.method} ${r.path}`);
    if (r.body !== 'none') assert.ok(responses['415'], `415 of ${r.method} ${r.path}`);
    if (['start', 'pause', 'resume', 'stop', 'delete', 'update-disk', 'update-nic'].includes(r.kind)) assert.ok(responses['409'], `409 of ${r.kind}`);
  }
  const codes = (pointer(doc, '#/components/schemas/Error/properties/error/properties/code') as Schema).enum;
  assert.deepEqual(codes, API_ERROR_CODES);
  for (const status of new Set(Object.values(API_ERROR_STATUS))) assert.ok(pointer(doc, `#/components/responses/Error${status}`));
});

for (const r of bodyRoutes) {
  const schema = { $ref: `#/components/schemas/${r.schema}` };

  test(`${r.method} ${r.path}: every body valid by the schema is accepted, with the schema's defaults`, () => {
    fc.assert(fc.property(validArb(schema), (v) => {
      const body = JSON.stringify(v);
      fc.pre(body.length < MAX_BODY_BYTES / 4);
      const got = accepts(r.method, r.path, body);
      if (got instanceof ApiError) throw new Error(`refused ${body}: ${got.message}`);
      assert.deepEqual(r.out(got), withDefaults(schema, JSON.parse(body)));
    }), { numRuns: 300 });
  });

  test(`${r.method} ${r.path}: mutated and random bodies are refused exactly when the schema refuses them`, () => {
    let refused = 0;
    let total = 0;
    fc.assert(fc.property(fc.oneof({ weight: 8, arbitrary: mutant(schema) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }), (v) => {
      const body = JSON.stringify(v);
      fc.pre(body !== undefined && body.length < MAX_BODY_BYTES / 4);
      const sent = JSON.parse(body);
      const valid = validate(schema, sent);
      const got = accepts(r.method, r.path, body);
      total++;
      if (got instanceof ApiError) {
        refused++;
        assert.ok(!valid, `refused a valid body ${body}: ${got.message}`);
        assert.equal(got.status, 400);
      } else {
        assert.ok(valid, `accepted a body the schema refuses: ${body}`);
      }
    }), { numRuns: 4000 });
    // the mutations must actually exercise both outcomes
    assert.ok(refused > total / 4 && refused < total, `${refused} of ${total} refused`);
  });
}

test('VM ids: parseRequest finds no VM exactly for ids the path parameter schema refuses', () => {
  const param = pointer(doc, '#/components/parameters/VmId/schema') as Schema;
  assert.equal(param.pattern, VM_ID_PATTERN);
  const segment = fc.oneof(fc.stringMatching(new RegExp(VM_ID_PATTERN)), fc.string({ minLength: 1, maxLength: 10 }), fc.string({ unit: fc.constantFrom(...'0123456789abcdefA'), minLength: 7, maxLength: 9 }));
  fc.assert(fc.property(segment.filter((s) => !/[/?]/.test(s)), (id) => {
    const got = (() => {
      try {
        return parseRequest('GET', `/v1/vms/${id}`, undefined, undefined);
      } catch (e) {
        return e as ApiError;
      }
    })();
    assert.equal(!(got instanceof ApiError), validate(param, id), id);
    if (got instanceof ApiError) assert.equal(got.code, 'not_found');
  }), { numRuns: 500 });
});

test('device indices: parseRequest finds no device exactly for indices the path parameter schema refuses', () => {
  for (const [device, name] of [['disks', 'DiskIndex'], ['nics', 'NicIndex']] as const) {
    const param = pointer(doc, `#/components/parameters/${name}`) as Schema;
    assert.equal(param.in, 'path');
    const schema = param.schema as Schema;
    // a path segment is text: it stands for the integer it spells in plain decimal, and for nothing otherwise
    const allowed = (seg: string) => /^(0|[1-9][0-9]*)$/.test(seg) && validate(schema, Number(seg));
    const segment = fc.oneof(fc.nat({ max: 40 }).map(String), fc.string({ unit: fc.constantFrom(...'0123456789-+.ex '), minLength: 1, maxLength: 4 }), fc.string({ minLength: 1, maxLength: 6 }));
    let found = 0;
    fc.assert(fc.property(segment.filter((s) => !/[/?]/.test(s)), (seg) => {
      const got = (() => {
        try {
          return parseRequest('PATCH', `/v1/vms/0123abcd/${device}/${seg}`, 'application/json', '{"rate_limiter":null}');
        } catch (e) {
          return e as ApiError;
        }
      })();
      if (!(got instanceof ApiError)) found++;
      assert.equal(!(got instanceof ApiError), allowed(seg), `${device}/${seg}`);
      if (got instanceof ApiError) assert.equal(got.code, 'not_found');
    }), { numRuns: 500 });
    assert.ok(found > 50, `${found} valid indices tried`);
  }
});
