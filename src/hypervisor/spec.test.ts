// Tests of the VM definition's path checks without node:path: the normalised form a refused path's message
// suggests must be the one path.posix.resolve gives, on tricky inputs and on random ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import fc from 'fast-check';
import * as E from './errors.js';
import { resolvePath } from './paths.js';
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
