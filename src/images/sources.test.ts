// Tests for reading APT source lists (one-line and deb822 formats) and picking the Debian mirror among them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDeb822Sources, parseOneLineSources, pickDebianMirror } from './sources.js';
import { hostDebianMirror, readHostSources } from './node/host.js';
import { tempDir } from '../../tests/lib/toolchain.js';

// Placeholder hosts only: tvisor never names a real mirror.
const ONE_LINE = `# comment line
deb http://mirror.example/debian bookworm main contrib   # trailing comment
deb-src http://mirror.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://vendor.example/apt cloud-sdk-bookworm main

deb http://security.example/debian-security bookworm-security main
`;

const DEB822 = `# Modernized from /etc/apt/sources.list
Types: deb deb-src
URIs: http://mirror.example/debian/
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.pgp

Types: deb
URIs: http://security.example/debian-security
Suites: trixie-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----
`;

describe('APT sources', () => {
  it('parses the one-line format, with options and comments', () => {
    const s = parseOneLineSources(ONE_LINE, 'sources.list');
    assert.equal(s.length, 4);
    assert.deepEqual(s[0], {
      file: 'sources.list', types: ['deb'], uris: ['http://mirror.example/debian'], suites: ['bookworm'],
      components: ['main', 'contrib'], enabled: true,
    });
    assert.deepEqual(s[1].types, ['deb-src']);
    assert.deepEqual([s[2].uris, s[2].suites], [['https://vendor.example/apt'], ['cloud-sdk-bookworm']]);
    assert.deepEqual(s[3].suites, ['bookworm-security']);
  });

  it('parses the deb822 format, with multi-line fields', () => {
    const s = parseDeb822Sources(DEB822, 'debian.sources');
    assert.equal(s.length, 2);
    assert.deepEqual(s[0].types, ['deb', 'deb-src']);
    assert.deepEqual(s[0].uris, ['http://mirror.example/debian/']);
    assert.deepEqual(s[0].suites, ['trixie', 'trixie-updates']);
    assert.equal(s[0].enabled, true);
    assert.deepEqual(s[1].suites, ['trixie-security']);
    const disabled = parseDeb822Sources('Enabled: no\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: sid\n');
    assert.equal(disabled[0].enabled, false);
  });

  it('picks the Debian archive, not the security archive or third-party repositories', () => {
    const thirdParty = [
      ...parseDeb822Sources('Types: deb\nURIs: https://repo.example.com/node_20.x\nSuites: nodistro\nComponents: main\n'),
      ...parseOneLineSources('deb https://vendor.example/apt cloud-sdk-bookworm main\n'),
    ];
    assert.equal(pickDebianMirror(thirdParty), undefined);
    assert.equal(pickDebianMirror([...thirdParty, ...parseOneLineSources(ONE_LINE)]), 'http://mirror.example/debian');
    assert.equal(pickDebianMirror(parseDeb822Sources(DEB822)), 'http://mirror.example/debian');
    // Security-only or source-only entries are not enough.
    assert.equal(pickDebianMirror(parseOneLineSources('deb http://security.example/debian-security bookworm-security main\n')), undefined);
    assert.equal(pickDebianMirror(parseOneLineSources('deb-src http://mirror.example/debian sid main\n')), undefined);
    // A plain release wins over an -updates-only entry listed first; the latter is the fallback.
    const pockets = parseOneLineSources('deb http://a.example/debian bookworm-updates main\ndeb http://b.example/debian bookworm main\n');
    assert.equal(pickDebianMirror(pockets), 'http://b.example/debian');
    assert.equal(pickDebianMirror(pockets.slice(0, 1)), 'http://a.example/debian');
    // Non-http transports are skipped.
    assert.equal(pickDebianMirror(parseOneLineSources('deb cdrom:[Debian]/ bookworm main\ndeb file:/srv/debian sid main\n')), undefined);
  });

  it('reads sources.list and sources.list.d from an APT directory', () => {
    const dir = tempDir('tvisor-apt-');
    try {
      mkdirSync(join(dir, 'sources.list.d'));
      writeFileSync(join(dir, 'sources.list.d', 'vendor.list'), 'deb https://vendor.example/apt cloud-sdk-bookworm main\n');
      writeFileSync(join(dir, 'sources.list.d', 'debian.sources'), DEB822);
      writeFileSync(join(dir, 'sources.list.d', 'ignored.save'), 'deb http://wrong.example/debian sid main\n');
      assert.equal(readHostSources(dir).length, 3);
      assert.equal(hostDebianMirror(dir), 'http://mirror.example/debian');
      writeFileSync(join(dir, 'sources.list'), 'deb http://first.example/debian bookworm main\n');
      assert.equal(hostDebianMirror(dir), 'http://first.example/debian');
      assert.equal(hostDebianMirror(join(dir, 'missing')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
