// Tests of the VM definition's path checks without node:path: the normalised form a refused path's message
// suggests must be the one path.posix.resolve gives, on tricky inputs and on random ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import fc from 'fast-check';
import * as E from './errors.js';
import { resolvePath, specPaths } from './paths.js';
import { filePath, parseVmSpec } from './spec.js';

const TRICKY = [
  '/', '//', '///', '/.', '/..', '/./', '/../', '/../..', '/./..', '/.././.',
  '/a', '/a/', '/a//', '//a', '///a//b///', '/a/.', '/a/./', '/a/..', '/a/../', '/a/../..', '/a/../../b',
  '/a/b/../c', '/a/b/../../c', '/a/b/../../../c', '/a/./b/./c/.', '/a/b/c/../..', '/a/b/c/../../..',
  '/...', '/.../', '/a/...', '/a/.../..', '/..a', '/a..', '/.a', '/a.', '/.a/..', '/..a/..', '/a/..b/../c',
  '/.hidden/./x', '/a b/./c d/', '/ü/./ö/..', '/\\/..', '/a\\b/../c', '/srv/vms/../../etc/passwd',
  '/x/y/z/'.repeat(50),
];

test('resolvePath gives path.posix.resolve\'s form of tricky absolute paths', () => {
  for (const p of TRICKY) assert.equal(resolvePath(p), posix.resolve(p), JSON.stringify(p));
});

test('resolvePath gives path.posix.resolve\'s form of random absolute paths', () => {
  const part = fc.constantFrom('', '.', '..', '...', 'a', '.a', '..a', 'a.', 'a..', 'bc');
  fc.assert(
    fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
      const p = `/${parts.join('/')}`;
      assert.equal(resolvePath(p), posix.resolve(p));
    }),
    { numRuns: 2000 },
  );
});

test('a path that is not normalised is refused with path.posix.resolve\'s form as the suggestion', () => {
  for (const p of TRICKY.filter((p) => p !== '/')) { // "/" names no file (PATH_PATTERN wants a component)
    if (posix.resolve(p) === p) assert.equal(filePath(p, 'kernel'), p);
    else assert.throws(() => filePath(p, 'kernel'), E.pathNotNormalised('kernel', p, posix.resolve(p)), JSON.stringify(p));
  }
  assert.throws(() => parseVmSpec({ name: 'a', kernel: '/srv//Image' }), E.pathNotNormalised('kernel', '/srv//Image', '/srv/Image'));
});

test('NICs: mode user with forwards (defaults filled in); forwards without user, twice, or with a bad address are refused', () => {
  const base = { name: 'web', kernel: '/k' };
  const spec = parseVmSpec({ ...base, nics: [{ mode: 'user', forwards: [{ host_port: 2222, guest_port: 22 }, { proto: 'udp', host_addr: '::1', host_port: 53, guest_port: 53 }] }, {}] });
  assert.deepEqual(spec.nics, [
    { mode: 'user', forwards: [{ proto: 'tcp', host_addr: '127.0.0.1', host_port: 2222, guest_port: 22 }, { proto: 'udp', host_addr: '::1', host_port: 53, guest_port: 53 }] },
    {},
  ]);
  const refused = (nic: unknown, re: RegExp) => assert.throws(() => parseVmSpec({ ...base, nics: [nic] }), (e: unknown) => e instanceof E.ApiError && re.test(e.message));
  refused({ mode: 'tap' }, /nics\[0\]\.mode must be one of "switch", "user"|nics\[0\]\.mode must be one of/);
  refused({ forwards: [] }, /nics\[0\]\.forwards needs "mode": "user"/);
  refused({ mode: 'switch', forwards: [{ host_port: 1, guest_port: 1 }] }, /needs "mode": "user"/);
  refused({ mode: 'user', forwards: [{ host_port: 22, guest_port: 22 }, { host_port: 22, guest_port: 23 }] }, /nics\[0\]\.forwards\[1\]: tcp port 22 is forwarded twice/);
  refused({ mode: 'user', forwards: [{ host_addr: 'localhost', host_port: 1, guest_port: 1 }] }, /host_addr must be an IPv4 or IPv6 address/);
  refused({ mode: 'user', forwards: [{ host_port: 0, guest_port: 1 }] }, /host_port/);
  refused({ mode: 'user', forwards: [{ guest_port: 1 }] }, /host_port/);
  refused({ mode: 'user', forwards: [{ proto: 'sctp', host_port: 1, guest_port: 1 }] }, /proto must be one of/);
  refused({ mode: 'user', forwards: [{ host_port: 1, guest_port: 1, via: 'x' }] }, /via/);
});

test('firmware "none" (QEMU\'s -bios none) names no file: accepted as such, not checked as a path', () => {
  const spec = parseVmSpec({ name: 'xv6', kernel: '/srv/xv6/kernel', firmware: 'none' });
  assert.equal(spec.firmware, 'none');
  assert.deepEqual(specPaths(spec).map((p) => p.field), ['kernel']);
  assert.deepEqual(specPaths({ ...spec, firmware: '/srv/fw_dynamic.bin' }).map((p) => p.field), ['kernel', 'firmware']);
  assert.throws(() => parseVmSpec({ name: 'a', kernel: '/k', firmware: 'None' }), E.pathNotAbsolute('firmware', 'None'));
});
