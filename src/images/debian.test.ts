// Tests for the archive index parsers (Release, Packages, Depends), Debian version ordering, checksum checks
// and the choice of the guest's packages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArchiveError, checkDigest, checkReleaseSuite, compareVersions, findPackages, newest, parseDepends, parseRelease,
  selectGuestPackages,
} from './debian.js';

const H = (c: string): string => c.repeat(64);

const RELEASE = `Origin: Debian
Label: Debian
Suite: stable
Version: 13.8
Codename: trixie
Date: Sat, 21 Nov 2026 09:15:44 UTC
Acquire-By-Hash: yes
Architectures: all amd64 riscv64
Components: main contrib
Description: Debian 13.8 Released 21 November 2026
MD5Sum:
 3e498904a30e240573dac8ddac594e6f  1961125 main/binary-riscv64/Packages.xz
SHA256:
 ${H('a')}  54338128 main/binary-riscv64/Packages
 ${H('B')}   9387120 main/binary-riscv64/Packages.xz
 ${H('c')}       32 contrib/binary-riscv64/Packages.xz
`;

function stanza(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n');
}

function pkg(name: string, version: string, extra: Record<string, string> = {}, hash = 'd'): string {
  return stanza({
    Package: name, Version: version, Architecture: 'riscv64', ...extra,
    Filename: `pool/main/x/${name}/${name}_${version.replace(/^\d+:/, '')}_riscv64.deb`, Size: '1234', SHA256: H(hash),
    Description: 'something\n continued description line\n .\n more',
  });
}

const PACKAGES = [
  pkg('aaa', '1.0'),
  pkg('linux-image-riscv64', '6.12.117-1', { Depends: 'linux-image-6.12.117+deb13-riscv64 (= 6.12.117-1)' }),
  pkg('linux-image-6.12.99+deb13-riscv64', '6.12.99-1', {}, 'e'),
  pkg('linux-image-6.12.117+deb13-riscv64', '6.12.117-1', { Depends: 'kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool' }, 'f'),
  pkg('busybox-static', '1:1.37.0-6+b9'),
  pkg('busybox-static', '1:1.37.0-6+b10', {}, '1'),
  stanza({ Package: 'opensbi', Version: '1.6-1', Architecture: 'all', Filename: 'pool/main/o/opensbi/opensbi_1.6-1_all.deb', Size: '204072', SHA256: H('2') }),
  pkg('zzz', '2'),
].join('\n\n') + '\n';

describe('Release files', () => {
  it('parses the fields and the SHA256 list', () => {
    const r = parseRelease(RELEASE);
    assert.equal(r.codename, 'trixie');
    assert.equal(r.suite, 'stable');
    assert.equal(r.version, '13.8');
    assert.equal(r.acquireByHash, true);
    assert.deepEqual(r.architectures, ['all', 'amd64', 'riscv64']);
    assert.equal(r.date?.toISOString(), '2026-11-21T09:15:44.000Z');
    assert.equal(r.validUntil, undefined);
    assert.equal(r.sha256.size, 3);
    assert.deepEqual(r.sha256.get('main/binary-riscv64/Packages.xz'), { sha256: H('b'), size: 9387120 });
    checkReleaseSuite(r, 'trixie');
    checkReleaseSuite(r, 'stable');
    assert.throws(() => checkReleaseSuite(r, 'sid'), /for 'trixie', not 'sid'/);
    assert.throws(() => parseRelease('Origin: Debian\nMD5Sum:\n x 1 y\n'), /no SHA256/);
  });

  it('reports size and hash mismatches clearly', () => {
    const expected = { sha256: H('b'), size: 10 };
    checkDigest('f', expected, H('B'), 10);
    assert.throws(() => checkDigest('pool/x.deb', expected, H('c'), 10), (e: Error) =>
      e instanceof ArchiveError && e.message === `pool/x.deb: SHA-256 mismatch (expected ${H('b')}, got ${H('c')})`);
    assert.throws(() => checkDigest('pool/x.deb', expected, H('b'), 11), /size mismatch \(expected 10 bytes, got 11\)/);
  });
});

describe('Packages index', () => {
  it('finds stanzas by package name, including every version', () => {
    const found = findPackages(new TextEncoder().encode(PACKAGES), ['busybox-static', 'opensbi', 'absent']);
    assert.deepEqual([...found.keys()].sort(), ['busybox-static', 'opensbi']);
    assert.equal(found.get('busybox-static')!.length, 2);
    const o = found.get('opensbi')![0];
    assert.deepEqual([o.version, o.architecture, o.filename, o.size, o.sha256], ['1.6-1', 'all', 'pool/main/o/opensbi/opensbi_1.6-1_all.deb', 204072, H('2')]);
    assert.equal(newest(found.get('busybox-static'))!.version, '1:1.37.0-6+b10');
  });

  it('rejects unsafe or incomplete stanzas', () => {
    assert.throws(() => findPackages(stanza({ Package: 'x', Version: '1', Filename: '../../etc/passwd', Size: '1', SHA256: H('a') }), ['x']), /unsafe Filename/);
    assert.throws(() => findPackages(stanza({ Package: 'x', Version: '1', Filename: 'pool/x', Size: '1' }), ['x']), /no sha256 field/);
    assert.throws(() => findPackages(stanza({ Package: 'x', Version: '1', Filename: 'pool/x', Size: '1', SHA256: 'zz' }), ['x']), /bad SHA256/);
  });

  it('selects the kernel the metapackage depends on, busybox-static and opensbi', () => {
    const g = selectGuestPackages(PACKAGES, 'riscv64');
    assert.equal(g.kernelVersion, '6.12.117+deb13-riscv64');
    assert.equal(g.kernel.package, 'linux-image-6.12.117+deb13-riscv64');
    assert.equal(g.kernel.sha256, H('f'));
    assert.equal(g.busybox.version, '1:1.37.0-6+b10');
    assert.equal(g.opensbi.version, '1.6-1');
    assert.throws(() => selectGuestPackages(PACKAGES.replace('Package: linux-image-riscv64\n', 'Package: other\n'), 'riscv64'), /no 'linux-image-riscv64'/);
    const missingKernel = PACKAGES.replace('Package: linux-image-6.12.117+deb13-riscv64\n', 'Package: gone\n');
    assert.throws(() => selectGuestPackages(missingKernel, 'riscv64'), /is not in the index/);
  });

  it('parses Depends fields', () => {
    assert.deepEqual(parseDepends('kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, libc6:any (<<2.40)'), [
      [{ name: 'kmod' }],
      [{ name: 'initramfs-tools', relation: '>=', version: '0.120+deb8u2' }, { name: 'linux-initramfs-tool' }],
      [{ name: 'libc6', relation: '<<', version: '2.40' }],
    ]);
    assert.deepEqual(parseDepends(''), []);
  });
});

describe('Debian version ordering', () => {
  const ascending = [
    '0.9', '1.0~~', '1.0~~a', '1.0~', '1.0', '1.0-0', '1.0-1', '1.0-1+b1', '1.0-1.1', '1.0-2', '1.0a', '1.0+dfsg',
    '1.0.1', '1.1', '1.10', '2:0.1', '2:0.1-1',
  ];
  it('orders versions as dpkg does', () => {
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        const expected = Math.sign(i - j);
        // "1.0" and "1.0-0" are equal: a missing revision compares like "0".
        const pair = [ascending[i], ascending[j]].sort().join(' ');
        const want = pair === '1.0 1.0-0' ? 0 : expected;
        assert.equal(Math.sign(compareVersions(ascending[i], ascending[j])), want, `${ascending[i]} vs ${ascending[j]}`);
      }
    }
    assert.equal(compareVersions('1:1.37.0-6+b9', '1:1.37.0-6+b10'), -1);
    assert.equal(compareVersions('6.12.117-1', '6.12.99-1'), 1);
    assert.equal(compareVersions('0:1.0', '1.0'), 0);
  });
});
