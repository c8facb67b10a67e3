// Tests of request parsing: every route, body and media-type checks, field validation with its messages, the
// state table, and the allowed-directory check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, toApiError, toBody } from '../hypervisor/errors.js';
import {
  ALLOWED_IN, MAX_BODY_BYTES, ROUTES, VM_STATES, checkAllowedPaths, isAllowed, parseRequest, parseVmSpec, stateError,
  type VmAction, type VmSpec, type VmTargetedAction,
} from './actions.js';

const JSON_CT = 'application/json';
const ID = '0123abcd';
const minimal = { name: 'web-1', vcpus: 2, memory_mib: 256, kernel: '/srv/vms/Image' };

const create = (body: unknown, ct: string | undefined = JSON_CT) =>
  parseRequest('POST', '/v1/vms', ct, typeof body === 'string' ? body : JSON.stringify(body));
const patch = (body: unknown) => parseRequest('PATCH', `/v1/vms/${ID}`, JSON_CT, JSON.stringify(body));

/** Asserts `fn` throws an ApiError with this code (and, if given, a message matching `message`). */
function fails(fn: () => unknown, code: string, message?: RegExp | string): ApiError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ApiError, `expected an ApiError ${code}, got ${err === undefined ? 'success' : String(err)}`);
  assert.equal(err.code, code, err.message);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message) assert.match(err.message, message);
  return err;
}

test('every route parses into its action', () => {
  const cases: [string, string, string | undefined, VmAction][] = [
    ['GET', '/v1/vms', undefined, { kind: 'list' }],
    ['GET', `/v1/vms/${ID}`, undefined, { kind: 'get', id: ID }],
    ['DELETE', `/v1/vms/${ID}`, undefined, { kind: 'delete', id: ID }],
    ['POST', `/v1/vms/${ID}/start`, undefined, { kind: 'start', id: ID }],
    ['POST', `/v1/vms/${ID}/pause`, '', { kind: 'pause', id: ID }],
    ['POST', `/v1/vms/${ID}/resume`, undefined, { kind: 'resume', id: ID }],
    ['POST', `/v1/vms/${ID}/stop`, undefined, { kind: 'stop', id: ID }],
    ['GET', `/v1/vms/${ID}/console`, undefined, { kind: 'console', id: ID }],
    ['GET', '/metrics', undefined, { kind: 'metrics' }],
    ['GET', '/v1/openapi.json', undefined, { kind: 'openapi' }],
    ['GET', '/metrics?', undefined, { kind: 'metrics' }],
    ['POST', `/v1/vms/${ID}/restart`, undefined, { kind: 'restart', id: ID }],
    ['GET', `/v1/vms/${ID}/logs`, undefined, { kind: 'logs', id: ID, follow: false }],
    ['GET', `/v1/vms/${ID}/logs?follow`, undefined, { kind: 'logs', id: ID, follow: true }],
    ['GET', `/v1/vms/${ID}/logs?follow=true&tail=20`, undefined, { kind: 'logs', id: ID, follow: true, tail: 20 }],
    ['GET', `/v1/vms/${ID}/logs?tail=0&follow=0`, undefined, { kind: 'logs', id: ID, follow: false, tail: 0 }],
    ['GET', '/v1/events', undefined, { kind: 'events' }],
  ];
  for (const [method, path, body, want] of cases) assert.deepEqual(parseRequest(method, path, undefined, body), want, `${method} ${path}`);
  assert.deepEqual(patch({ weight: 512 }), { kind: 'update', id: ID, patch: { weight: 512 } });
  assert.deepEqual(patch({ cap: 0, balloon_mib: 64 }), { kind: 'update', id: ID, patch: { cap: 0, balloon_mib: 64 } });
  // and the route table has every action kind
  const kinds = new Set(ROUTES.map((r) => r.kind));
  for (const k of ['create', 'list', 'get', 'start', 'pause', 'resume', 'stop', 'restart', 'logs', 'events', 'delete', 'update', 'update-disk', 'update-nic', 'console', 'metrics', 'openapi']) assert.ok(kinds.has(k as never), k);
});

test('create fills in defaults and keeps every given field', () => {
  assert.deepEqual(create(minimal), { kind: 'create', spec: { ...minimal, disks: [], nics: [], weight: 256, cap: 0 } });
  const full = {
    ...minimal,
    initrd: '/srv/vms/initrd.cpio',
    cmdline: 'console=ttyS0 root=/dev/vda rw',
    firmware: '/srv/fw/fw_dynamic.bin',
    disks: [
      { path: '/srv/vms/root.img', overlay: '/srv/vms/root.ovl', rate_limiter: { bandwidth: { size: 1 << 20, refill_time_ms: 100, one_time_burst: 1 << 24 }, ops: { size: 100, refill_time_ms: 1000 } } },
      { path: '/srv/vms/data.img', readonly: true },
    ],
    nics: [{ mac: '52:54:00:12:34:56', rate_limiter: { ops: { size: 1000, refill_time_ms: 1 } } }, {}],
    weight: 65535,
    cap: 800,
  };
  const got = create(full) as { kind: 'create'; spec: VmSpec };
  assert.deepEqual(got.spec, { ...full, disks: [{ ...full.disks[0], readonly: false }, full.disks[1]] });
  assert.deepEqual(create({ ...minimal, disks: [{ path: '/a', readonly: false, overlay: '/b' }] }).kind, 'create');
});

test('unknown paths are 404, wrong methods 405 with Allow, ids that cannot exist 404', () => {
  for (const p of ['/', '/v1', '/v1/vms/', `/v1/vms/${ID}/reboot`, `/v1/vms/${ID}/start/now`, '/v2/vms', '/v1//vms', '/metrics/', 'v1/vms']) {
    fails(() => parseRequest('GET', p, undefined, undefined), 'not_found', /no such endpoint/);
  }
  const e = fails(() => parseRequest('PUT', '/v1/vms', undefined, undefined), 'method_not_allowed', 'PUT is not supported on /v1/vms; use GET or POST');
  assert.equal(e.status, 405);
  assert.deepEqual(e.allow, ['GET', 'POST']);
  assert.deepEqual(fails(() => parseRequest('POST', `/v1/vms/${ID}`, undefined, undefined), 'method_not_allowed').allow, ['DELETE', 'GET', 'PATCH']);
  assert.deepEqual(fails(() => parseRequest('GET', `/v1/vms/${ID}/start`, undefined, undefined), 'method_not_allowed').allow, ['POST']);
  fails(() => parseRequest('get', '/metrics', undefined, undefined), 'method_not_allowed'); // methods are case-sensitive
  fails(() => parseRequest('HEAD', '/metrics', undefined, undefined), 'method_not_allowed');
  for (const id of ['0123ABCD', '0123abc', '0123abcde', 'web-1', '..', '%30123abc']) {
    fails(() => parseRequest('GET', `/v1/vms/${id}`, undefined, undefined), 'not_found', /no VM with id/);
  }
  fails(() => parseRequest('GET', '/v1/vms?limit=3', undefined, undefined), 'bad_request', /no query parameters/);
});

test('bodies: required where taken, refused elsewhere, size-limited, JSON only', () => {
  fails(() => create(''), 'bad_request', 'POST /v1/vms needs a JSON object as its request body');
  fails(() => parseRequest('POST', '/v1/vms', JSON_CT, undefined), 'bad_request', /needs a JSON object/);
  fails(() => parseRequest('PATCH', `/v1/vms/${ID}`, JSON_CT, '  \n'), 'bad_request', /needs a JSON object/);
  fails(() => parseRequest('POST', `/v1/vms/${ID}/start`, JSON_CT, '{}'), 'bad_request', 'POST /v1/vms/{id}/start takes no request body; send none');
  fails(() => parseRequest('GET', '/v1/vms', undefined, 'x'), 'bad_request', /takes no request body/);

  for (const ct of [undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/jsonx']) {
    fails(() => parseRequest('POST', '/v1/vms', ct, JSON.stringify(minimal)), 'unsupported_media_type', /Content-Type: application\/json/);
  }
  for (const ct of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"']) {
    assert.equal(create(minimal, ct).kind, 'create', ct);
  }

  for (const bad of ['{', '{"name": "a",}', "{'a': 1}", 'nul', '{"a": 1} x']) fails(() => create(bad), 'invalid_json', /not valid JSON/);
  for (const notObject of ['[]', 'null', '1', '"x"', 'true']) fails(() => create(notObject), 'bad_request', /the request body must be a JSON object/);

  const big = JSON.stringify({ ...minimal, cmdline: 'a'.repeat(MAX_BODY_BYTES) });
  const e = fails(() => create(big), 'payload_too_large', /at most 65536/);
  assert.equal(e.status, 413);
  // counted in UTF-8 bytes, not UTF-16 units: 30000 "é" are 60000 bytes
  fails(() => create(JSON.stringify({ ...minimal, cmdline: 'é'.repeat(33000) })), 'payload_too_large');
  // the limit applies before anything else looks at the body, even where no body is taken
  fails(() => parseRequest('POST', `/v1/vms/${ID}/stop`, undefined, 'x'.repeat(MAX_BODY_BYTES + 1)), 'payload_too_large');
});

test('unknown fields are refused by name, at every level', () => {
  fails(() => create({ ...minimal, memory: 256 }), 'bad_request', /^unknown field "memory" in the request body; allowed fields are name, vcpus, /);
  fails(() => create({ ...minimal, disks: [{ path: '/a', ro: true }] }), 'bad_request', 'unknown field "ro" in disks[0]; allowed fields are path, readonly, overlay or rate_limiter');
  fails(() => create({ ...minimal, nics: [{}, { model: 'e1000' }] }), 'bad_request', /unknown field "model" in nics\[1\]/);
  fails(() => create({ ...minimal, disks: [{ path: '/a', rate_limiter: { iops: {} } }] }), 'bad_request', /unknown field "iops" in disks\[0\]\.rate_limiter/);
  fails(() => create({ ...minimal, nics: [{ rate_limiter: { ops: { size: 1, refill_time_ms: 1, burst: 2 } } }] }), 'bad_request', /"burst" in nics\[0\]\.rate_limiter\.ops/);
  fails(() => create('{"name":"a","vcpus":1,"memory_mib":16,"kernel":"/k","__proto__":{}}'), 'bad_request', /unknown field "__proto__"/);
  fails(() => patch({ memory_mib: 512 }), 'bad_request', 'unknown field "memory_mib" in the request body; allowed fields are weight, cap or balloon_mib');
  fails(() => patch({}), 'bad_request', 'the request body must set at least one of weight, cap or balloon_mib');
});

test('missing fields, wrong types and out-of-range values get precise messages', () => {
  for (const f of ['name', 'kernel'] as const) {
    const body: Record<string, unknown> = { ...minimal };
    delete body[f];
    fails(() => create(body), 'bad_request', `${f} is required`);
  }
  // vcpus and memory_mib have defaults, the same as tvisor run's and create's
  const defaults = create({ name: 'd', kernel: '/k' });
  assert.ok(defaults.kind === 'create');
  assert.equal(defaults.spec.vcpus, 1);
  assert.equal(defaults.spec.memory_mib, 256);
  fails(() => create({ ...minimal, memory_mib: 4096 }), 'bad_request', 'memory_mib must be an integer from 16 to 2048, got 4096');
  fails(() => create({ ...minimal, memory_mib: 15 }), 'bad_request', 'memory_mib must be an integer from 16 to 2048, got 15');
  fails(() => create({ ...minimal, vcpus: 0 }), 'bad_request', 'vcpus must be an integer from 1 to 8, got 0');
  fails(() => create({ ...minimal, vcpus: 9 }), 'bad_request', /vcpus .* got 9$/);
  fails(() => create({ ...minimal, vcpus: 1.5 }), 'bad_request', /got 1.5$/);
  fails(() => create({ ...minimal, vcpus: '2' }), 'bad_request', 'vcpus must be an integer from 1 to 8, got "2"');
  fails(() => create({ ...minimal, vcpus: null }), 'bad_request', /got null$/);
  fails(() => create('{"name":"a","vcpus":1e400,"memory_mib":16,"kernel":"/k"}'), 'bad_request', /got Infinity/);
  fails(() => create({ ...minimal, weight: 0 }), 'bad_request', 'weight must be an integer from 1 to 65535, got 0');
  fails(() => create({ ...minimal, weight: 65536 }), 'bad_request', /weight/);
  fails(() => create({ ...minimal, cap: -1 }), 'bad_request', 'cap must be an integer from 0 to 800, got -1');
  fails(() => create({ ...minimal, cap: 801 }), 'bad_request', /cap/);
  fails(() => patch({ balloon_mib: -1 }), 'bad_request', 'balloon_mib must be an integer from 0 to 2048, got -1');
  fails(() => patch({ weight: null }), 'bad_request', /weight .* got null/);
  assert.equal(create({ ...minimal, vcpus: 8.0, memory_mib: 2048, weight: 1, cap: 0 }).kind, 'create');

  for (const name of ['', '-a', '.a', '_a', 'a b', 'a/b', 'é', 'a'.repeat(64)]) fails(() => create({ ...minimal, name }), 'bad_request', /^name (must|may)/);
  for (const name of ['a', 'A.b_c-9', '9', 'a'.repeat(63)]) assert.equal(create({ ...minimal, name }).kind, 'create', name);
  fails(() => create({ ...minimal, name: 7 }), 'bad_request', 'name must be a string, got 7');

  fails(() => create({ ...minimal, cmdline: 'a\nb' }), 'bad_request', /cmdline must not contain control characters/);
  fails(() => create({ ...minimal, cmdline: 'x'.repeat(4097) }), 'bad_request', 'cmdline may have at most 4096 characters, got 4097');

  fails(() => create({ ...minimal, disks: {} }), 'bad_request', 'disks must be an array, got an object');
  fails(() => create({ ...minimal, disks: ['/a'] }), 'bad_request', 'disks[0] must be a JSON object, got "/a"');
  fails(() => create({ ...minimal, disks: Array.from({ length: 17 }, () => ({ path: '/a' })) }), 'bad_request', 'disks may have at most 16 entries, got 17');
  fails(() => create({ ...minimal, nics: Array.from({ length: 9 }, () => ({})) }), 'bad_request', /nics may have at most 8/);
  fails(() => create({ ...minimal, disks: [{ readonly: true }] }), 'bad_request', 'disks[0].path is required');
  fails(() => create({ ...minimal, disks: [{ path: '/a', readonly: 'yes' }] }), 'bad_request', 'disks[0].readonly must be true or false, got "yes"');
  fails(() => create({ ...minimal, disks: [{ path: '/a', readonly: true, overlay: '/b' }] }), 'bad_request', /disks\[0\]: readonly and overlay exclude each other/);

  const bucket = (b: object) => create({ ...minimal, disks: [{ path: '/a', rate_limiter: { bandwidth: b } }] });
  fails(() => bucket({ size: 0, refill_time_ms: 1 }), 'bad_request', /^disks\[0\]\.rate_limiter\.bandwidth\.size must be an integer from 1 to/);
  fails(() => bucket({ size: 1, refill_time_ms: 0 }), 'bad_request', /refill_time_ms must be an integer from 1 to 86400000, got 0/);
  fails(() => bucket({ size: 1, refill_time_ms: 1, one_time_burst: 0 }), 'bad_request', /one_time_burst/);
  fails(() => bucket({ size: 1 }), 'bad_request', 'disks[0].rate_limiter.bandwidth.refill_time_ms is required');
  fails(() => bucket({ size: 2 ** 53, refill_time_ms: 1 }), 'bad_request', /size/);
  fails(() => create({ ...minimal, nics: [{ rate_limiter: null }] }), 'bad_request', 'nics[0].rate_limiter must be a JSON object, got null');

  for (const mac of ['52:54:00:12:34', '52-54-00-12-34-56', '5254.0012.3456', '53:54:00:12:34:56', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '52:54:00:12:34:5g', ' 52:54:00:12:34:56']) {
    fails(() => create({ ...minimal, nics: [{ mac }] }), 'bad_request', /^nics\[0\]\.mac must be a unicast MAC address/);
  }
  for (const mac of ['52:54:00:12:34:56', '02:AB:cd:00:00:00', '00:00:00:00:00:01']) assert.equal(create({ ...minimal, nics: [{ mac }] }).kind, 'create');
});

test('paths must be absolute and normalised strings', () => {
  fails(() => create({ ...minimal, kernel: 'Image' }), 'bad_request', 'kernel must be an absolute path (starting with "/"), got "Image"');
  fails(() => create({ ...minimal, kernel: './Image' }), 'bad_request', /absolute/);
  fails(() => create({ ...minimal, kernel: '' }), 'bad_request', /absolute/);
  fails(() => create({ ...minimal, initrd: '/srv/vms/../../etc/shadow' }), 'bad_request', 'initrd must be a normalised path without ".", ".." or empty components, got "/srv/vms/../../etc/shadow"; write it as "/etc/shadow"');
  for (const p of ['/srv//vms/a', '/srv/./a', '/srv/a/', '/srv/..', '/']) fails(() => create({ ...minimal, kernel: p }), 'bad_request', /normalised/);
  fails(() => create({ ...minimal, kernel: '/a\u0000b' }), 'bad_request', 'kernel must not contain NUL characters');
  fails(() => create({ ...minimal, firmware: 1 }), 'bad_request', 'firmware must be a string, got 1');
  fails(() => create({ ...minimal, disks: [{ path: '/a', overlay: 'b.ovl' }] }), 'bad_request', /^disks\[0\]\.overlay must be an absolute path/);
  fails(() => create({ ...minimal, kernel: `/${'a'.repeat(4096)}` }), 'bad_request', 'kernel may have at most 4096 characters, got 4097');
  for (const p of ['/.a', '/..a', '/a..', '/a/.../b', '/a b/ü']) assert.equal(create({ ...minimal, kernel: p }).kind, 'create', p);
});

test('checkAllowedPaths: every named file must lie strictly under an allowed directory', () => {
  const spec = (over: Partial<VmSpec>): VmSpec => ({ ...parseVmSpec(minimal), ...over });
  const allowed = ['/srv/vms', '/opt/fw/'];
  checkAllowedPaths(spec({ initrd: '/srv/vms/sub/initrd', firmware: '/opt/fw/fw.bin', disks: [{ path: '/srv/vms/a.img', readonly: false, overlay: '/srv/vms/a.ovl' }] }), allowed);
  checkAllowedPaths(spec({}), ['/']);
  checkAllowedPaths(spec({}), ['/srv/x/../vms']); // allowed directories are resolved first

  const e = fails(() => checkAllowedPaths(spec({ kernel: '/etc/passwd' }), allowed), 'forbidden_path', 'kernel "/etc/passwd" is not in a directory this daemon allows: it must lie under /srv/vms or /opt/fw');
  assert.equal(e.status, 403);
  fails(() => checkAllowedPaths(spec({ kernel: '/srv/vmsx/Image' }), allowed), 'forbidden_path'); // a prefix is not a parent
  fails(() => checkAllowedPaths(spec({ kernel: '/srv/vms' }), allowed), 'forbidden_path'); // the directory itself is no file
  fails(() => checkAllowedPaths(spec({ kernel: '/srv/vms/../../etc/passwd' }), allowed), 'forbidden_path'); // judged after resolving ..
  fails(() => checkAllowedPaths(spec({ kernel: '/srv/vms/a/../b' }), allowed), 'bad_request', /write it as "\/srv\/vms\/b"/);
  fails(() => checkAllowedPaths(spec({ kernel: 'srv/vms/Image' }), allowed), 'bad_request', /absolute/);
  fails(() => checkAllowedPaths(spec({ disks: [{ path: '/srv/vms/a', readonly: false }, { path: '/srv/vms/b', readonly: false, overlay: '/tmp/b.ovl' }] }), allowed), 'forbidden_path', /^disks\[1\]\.overlay "\/tmp\/b.ovl"/);
  fails(() => checkAllowedPaths(spec({}), []), 'forbidden_path', /allows no directories/);
});

test('the state table: documented transitions, 409 elsewhere', () => {
  const want: Record<keyof typeof ALLOWED_IN, string[]> = {
    get: [...VM_STATES],
    start: ['created', 'stopped', 'crashed'],
    pause: ['running'],
    resume: ['paused'],
    stop: ['running', 'paused'],
    restart: [...VM_STATES],
    logs: [...VM_STATES],
    delete: ['created', 'stopped', 'crashed'],
    update: [...VM_STATES],
    'update-disk': ['created', 'running', 'paused', 'stopped'],
    'update-nic': ['created', 'running', 'paused', 'stopped'],
    console: [...VM_STATES],
    snapshot: ['running', 'paused'],
    migrate: ['running', 'paused'],
  };
  for (const [kind, states] of Object.entries(want) as [keyof typeof ALLOWED_IN, string[]][]) {
    for (const s of VM_STATES) {
      const action = (kind === 'update' ? { kind, id: ID, patch: { weight: 1 } }
        : kind === 'update-disk' || kind === 'update-nic' ? { kind, id: ID, index: 0, patch: { rate_limiter: null } }
        : { kind, id: ID }) as VmTargetedAction;
      const err = stateError(action, s);
      assert.equal(isAllowed(kind, s), states.includes(s), `${kind} in ${s}`);
      assert.equal(err === null, states.includes(s), `${kind} in ${s}`);
      if (err) assert.equal(err.status, 409);
    }
  }
  assert.equal(stateError({ kind: 'pause', id: ID }, 'stopped')?.message, `cannot pause VM ${ID}: it is stopped; pause is allowed only when it is running`);
  assert.equal(stateError({ kind: 'delete', id: ID }, 'running')?.message, `cannot delete VM ${ID}: it is running; delete is allowed only when it is created, stopped or crashed`);
});

test('error bodies: code and message; anything unexpected becomes a bare internal error', () => {
  const e = fails(() => create({ ...minimal, vcpus: 0 }), 'bad_request');
  assert.deepEqual(toBody(e), { error: { code: 'bad_request', message: 'vcpus must be an integer from 1 to 8, got 0' } });
  const leak = new Error('EACCES /home/secret');
  assert.deepEqual(toBody(leak), { error: { code: 'internal', message: 'internal error in the daemon; its log has the details' } });
  assert.equal(toApiError(leak).status, 500);
  assert.equal(toApiError('x').code, 'internal');
});

const devicePatch = (device: 'disks' | 'nics', index: string, body: unknown, ct: string | undefined = JSON_CT) =>
  parseRequest('PATCH', `/v1/vms/${ID}/${device}/${index}`, ct, typeof body === 'string' ? body : JSON.stringify(body));

test('PATCH a disk or NIC: rate_limiter replaced, or removed with null or {}', () => {
  const rl = { bandwidth: { size: 2 << 20, refill_time_ms: 1000, one_time_burst: 1 << 20 }, ops: { size: 100, refill_time_ms: 1000 } };
  assert.deepEqual(devicePatch('disks', '0', { rate_limiter: rl }), { kind: 'update-disk', id: ID, index: 0, patch: { rate_limiter: rl } });
  assert.deepEqual(devicePatch('disks', '15', { rate_limiter: null }), { kind: 'update-disk', id: ID, index: 15, patch: { rate_limiter: null } });
  assert.deepEqual(devicePatch('nics', '7', { rate_limiter: {} }), { kind: 'update-nic', id: ID, index: 7, patch: { rate_limiter: {} } });
  assert.deepEqual(devicePatch('nics', '1', { rate_limiter: { ops: { size: 1, refill_time_ms: 86_400_000 } } }).kind, 'update-nic');
  const e = fails(() => parseRequest('GET', `/v1/vms/${ID}/disks/0`, undefined, undefined), 'method_not_allowed', 'GET is not supported on /v1/vms/0123abcd/disks/0; use PATCH');
  assert.deepEqual(e.allow, ['PATCH']);
});

test('PATCH a disk or NIC: indices no VM can have are 404, bad bodies 400 with the field named', () => {
  for (const [device, index] of [['disks', '16'], ['nics', '8'], ['disks', '01'], ['disks', '-1'], ['nics', 'eth0'], ['disks', '1.0'], ['disks', '99999999999']] as const) {
    fails(() => devicePatch(device, index, { rate_limiter: null }), 'not_found', new RegExp(`^no ${device.slice(0, -1)} "${index.replace('.', '\\.')}": a ${device.slice(0, -1)} index is a whole number from 0 to ${device === 'disks' ? 15 : 7}`));
  }
  fails(() => devicePatch('disks', '', { rate_limiter: null }), 'not_found', /no such endpoint/);
  fails(() => parseRequest('PATCH', `/v1/vms/0123ABCD/disks/0`, JSON_CT, '{"rate_limiter":null}'), 'not_found', /no VM with id/);
  fails(() => devicePatch('disks', '0', {}), 'bad_request', 'rate_limiter is required');
  fails(() => devicePatch('disks', '0', ''), 'bad_request', 'PATCH /v1/vms/{id}/disks/{index} needs a JSON object as its request body');
  fails(() => devicePatch('disks', '0', { rate_limiter: null }, 'text/plain'), 'unsupported_media_type');
  fails(() => devicePatch('disks', '0', '{"rate_limiter":'), 'invalid_json');
  fails(() => devicePatch('disks', '0', { rate_limiter: null, path: '/a' }), 'bad_request', 'unknown field "path" in the request body; allowed fields are rate_limiter');
  fails(() => devicePatch('nics', '0', { rate_limiter: { iops: 3 } }), 'bad_request', 'unknown field "iops" in rate_limiter; allowed fields are bandwidth or ops');
  fails(() => devicePatch('nics', '0', { rate_limiter: 'fast' }), 'bad_request', 'rate_limiter must be a JSON object, got "fast"');
  fails(() => devicePatch('nics', '0', { rate_limiter: [] }), 'bad_request', 'rate_limiter must be a JSON object, got an array');
  fails(() => devicePatch('disks', '0', { rate_limiter: { bandwidth: { size: 0, refill_time_ms: 1000 } } }), 'bad_request', /^rate_limiter\.bandwidth\.size must be an integer from 1 to /);
  fails(() => devicePatch('disks', '0', { rate_limiter: { bandwidth: { size: 1.5, refill_time_ms: 1000 } } }), 'bad_request', /size must be an integer/);
  fails(() => devicePatch('disks', '0', { rate_limiter: { ops: { size: 10, refill_time_ms: 86_400_001 } } }), 'bad_request', 'rate_limiter.ops.refill_time_ms must be an integer from 1 to 86400000, got 86400001');
  fails(() => devicePatch('disks', '0', { rate_limiter: { ops: { size: 10, refill_time_ms: '1000' } } }), 'bad_request', /refill_time_ms must be an integer from 1 to 86400000, got "1000"/);
  fails(() => devicePatch('disks', '0', { rate_limiter: { ops: { size: 10, refill_time_ms: 1000, one_time_burst: 0 } } }), 'bad_request', /one_time_burst must be an integer from 1 to/);
  fails(() => devicePatch('disks', '0', { rate_limiter: { ops: { refill_time_ms: 1000 } } }), 'bad_request', 'rate_limiter.ops.size is required');
  fails(() => devicePatch('disks', '0?x=1', { rate_limiter: null }), 'bad_request', /no query parameters/);
});

test('the stats query: interval_ms only, once, within its bounds', () => {
  const stats = (q: string) => parseRequest('GET', `/v1/stats${q}`, undefined, undefined);
  assert.deepEqual(stats(''), { kind: 'stats', intervalMs: 1000 });
  assert.deepEqual(stats('?interval_ms=250'), { kind: 'stats', intervalMs: 250 });
  assert.deepEqual(stats('?interval_ms=60000'), { kind: 'stats', intervalMs: 60000 });
  for (const bad of ['199', '60001', '0', '-5', '1.5', 'x', '', '0250']) {
    fails(() => stats(`?interval_ms=${bad}`), 'bad_request', /interval_ms must be a whole number of milliseconds from 200 to 60000/);
  }
  fails(() => stats('?interval_ms=500&interval_ms=600'), 'bad_request', /"interval_ms" is given twice/);
  fails(() => stats('?every=1'), 'bad_request', /takes no query parameter "every"; it takes interval_ms/);
  assert.deepEqual(parseRequest('GET', '/v1/images', undefined, undefined), { kind: 'images' });
  fails(() => parseRequest('POST', '/v1/images', 'application/json', '{}'), 'method_not_allowed', /GET/);
});

test('the logs query: follow and tail only, each once, with checked values', () => {
  const logs = (q: string) => parseRequest('GET', `/v1/vms/${ID}/logs?${q}`, undefined, undefined);
  fails(() => logs('since=3'), 'bad_request', /takes no query parameter "since"; it takes follow or tail/);
  fails(() => logs('tail=1&tail=2'), 'bad_request', /"tail" is given twice/);
  fails(() => logs('follow=yes'), 'bad_request', /follow must be true or false, got "yes"/);
  for (const bad of ['-1', '01', '1.5', 'x', '', '1000001']) fails(() => logs(`tail=${bad}`), 'bad_request', /tail must be a whole number of lines from 0 to 100000/);
  fails(() => parseRequest('GET', '/v1/events?x=1', undefined, undefined), 'bad_request', /no query parameters/);
  fails(() => parseRequest('POST', `/v1/vms/${ID}/restart?x`, undefined, undefined), 'bad_request', /no query parameters/);
});
