// Tests for reading module metadata (.modinfo) and resolving module dependencies and load order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  canonicalModuleName, elfSection, parseBuiltinModinfo, parseModulesBuiltin, parseSoftdep, readModinfo, ModinfoError,
  type Modinfo,
} from './modinfo.js';
import { aliasMatches, resolveModules, ModuleResolveError, type ModuleTree } from './modules.js';
import { makeModuleElf } from './test-fixtures.js';
import { GCC, hasTool, tempDir } from '../../tests/lib/toolchain.js';

const enc = new TextEncoder();

describe('modinfo', () => {
  it('reads name, depends, softdep and aliases from an ELF .modinfo section', () => {
    const ko = makeModuleElf(['license=GPL', 'softdep=pre: crypto-crc32c', 'alias=fs-ext4', 'alias=ext3',
      'depends=jbd2,mbcache,crc16', 'name=ext4', 'vermagic=6.12.117+deb13-riscv64 SMP mod_unload modversions riscv']);
    const info = readModinfo(ko);
    assert.equal(info.name, 'ext4');
    assert.deepEqual(info.depends, ['jbd2', 'mbcache', 'crc16']);
    assert.deepEqual(info.softPre, ['crypto-crc32c']);
    assert.deepEqual(info.softPost, []);
    assert.deepEqual(info.aliases, ['fs-ext4', 'ext3']);
    assert.equal(info.entries.length, 7);
    assert.deepEqual(readModinfo(makeModuleElf(['depends=', 'name=virtio-rng'])).depends, []);
    assert.equal(readModinfo(makeModuleElf(['name=virtio-rng'])).name, 'virtio_rng');
    assert.equal(readModinfo(makeModuleElf(['license=GPL']), 'my-mod').name, 'my_mod');
  });

  it('rejects files that are not ELF64 modules', () => {
    assert.throws(() => readModinfo(enc.encode('not an elf file at all, not even close to one..........................')), ModinfoError);
    const noModinfo = makeModuleElf([]);
    noModinfo.set(enc.encode('.xxxxxxx'), noModinfo.indexOf(0x2e)); // rename the section
    assert.throws(() => readModinfo(noModinfo), /no \.modinfo section/);
    const elf32 = makeModuleElf(['name=x']);
    elf32[4] = 1;
    assert.throws(() => readModinfo(elf32), /ELF64/);
    assert.throws(() => readModinfo(makeModuleElf(['name=x']).subarray(0, 100)), /out of range/);
  });

  it('reads the section gcc emits for a module-style .modinfo (gcc as an oracle)', { skip: hasTool(GCC) ? false : `no ${GCC}` }, () => {
    const dir = tempDir('tvisor-modinfo-');
    try {
      writeFileSync(join(dir, 'm.c'), [
        'static const char a[] __attribute__((used, section(".modinfo"), aligned(1))) = "depends=failover";',
        'static const char b[] __attribute__((used, section(".modinfo"), aligned(1))) = "name=net_failover";',
        'static const char c[] __attribute__((used, section(".modinfo"), aligned(1))) = "softdep=pre: x post: y z";',
        'int f(void) { return 1; }',
      ].join('\n'));
      const r = spawnSync(GCC, ['-c', '-O2', '-o', join(dir, 'm.o'), join(dir, 'm.c')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const info = readModinfo(new Uint8Array(readFileSync(join(dir, 'm.o'))));
      assert.equal(info.name, 'net_failover');
      assert.deepEqual(info.depends, ['failover']);
      assert.deepEqual([info.softPre, info.softPost], [['x'], ['y', 'z']]);
      assert.ok(elfSection(new Uint8Array(readFileSync(join(dir, 'm.o'))), '.text'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses softdep, modules.builtin and modules.builtin.modinfo', () => {
    assert.deepEqual(parseSoftdep('pre: a b post: c'), { pre: ['a', 'b'], post: ['c'] });
    assert.deepEqual(parseSoftdep('post: c pre: a'), { pre: ['a'], post: ['c'] });
    assert.equal(canonicalModuleName('virtio-rng'), 'virtio_rng');
    assert.deepEqual([...parseModulesBuiltin('kernel/drivers/char/virtio_console.ko\nkernel/drivers/char/hw_random/rng-core.ko\n')],
      ['virtio_console', 'rng_core']);
    const builtin = parseBuiltinModinfo(enc.encode('virtio_console.license=GPL\0virtio_console.alias=virtio:d00000003v*\0crc32c.alias=crypto-crc32c\0'));
    assert.deepEqual(builtin.get('virtio_console')!.aliases, ['virtio:d00000003v*']);
    assert.deepEqual(builtin.get('crc32c')!.aliases, ['crypto-crc32c']);
  });
});

/** A module tree from name → modinfo entries, counting modinfo reads. */
function fakeTree(modules: Record<string, string[]>, builtin: string[] = [], builtinAliases: Record<string, string> = {}): ModuleTree & { reads: string[] } {
  const reads: string[] = [];
  const infos = new Map<string, Modinfo>();
  return {
    reads,
    paths: new Map(Object.keys(modules).map((n) => [canonicalModuleName(n), `kernel/${n}.ko.xz`])),
    builtin: new Set(builtin),
    builtinAliases: new Map(Object.entries(builtinAliases)),
    async modinfo(name) {
      reads.push(name);
      let info = infos.get(name);
      if (!info) {
        const key = Object.keys(modules).find((k) => canonicalModuleName(k) === name);
        if (!key) throw new Error(`no module ${name}`);
        info = readModinfo(makeModuleElf([`name=${name}`, ...modules[key]]));
        infos.set(name, info);
      }
      return info;
    },
  };
}

const DEBIAN_LIKE = {
  virtio_mmio: ['depends='],
  virtio_blk: ['depends='],
  virtio_net: ['depends=net_failover'],
  net_failover: ['depends=failover'],
  failover: ['depends='],
  'virtio-rng': ['depends='],
  virtio_balloon: ['depends='],
  ext4: ['softdep=pre: crypto-crc32c', 'depends=jbd2,mbcache,crc16'],
  jbd2: ['softdep=pre: crypto-crc32c', 'depends='],
  mbcache: ['depends='],
  crc16: ['depends='],
  crc32c_generic: ['alias=crypto-crc32c-generic', 'alias=crypto-crc32c', 'alias=crc32c', 'depends='],
  unrelated: ['alias=something', 'depends='],
};

describe('module dependency resolution', () => {
  it('orders dependencies first, resolves aliases, skips built-in modules', async () => {
    const tree = fakeTree(DEBIAN_LIKE, ['virtio_console']);
    const r = await resolveModules(tree, ['virtio_mmio', 'virtio_blk', 'virtio_net', 'virtio_console', 'virtio_rng', 'virtio_balloon', 'ext4']);
    assert.deepEqual(r.order, ['virtio_mmio', 'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'virtio_rng', 'virtio_balloon',
      'crc32c_generic', 'jbd2', 'mbcache', 'crc16', 'ext4']);
    assert.deepEqual(r.builtin, ['virtio_console']);
    assert.deepEqual(r.unresolvedSoftdeps, []);
    assert.ok(!tree.reads.includes('unrelated'), 'the cheap crypto-<alg> guess should avoid a full alias scan');
    for (const [i, name] of r.order.entries()) {
      for (const dep of (await tree.modinfo(name)).depends) assert.ok(r.order.indexOf(dep) < i, `${dep} before ${name}`);
    }
  });

  it('finds aliases by scanning when the name gives no hint, and tolerates unresolvable soft dependencies', async () => {
    const tree = fakeTree({
      a: ['softdep=pre: something post: nothing-provides-this', 'depends='],
      unrelated: ['alias=some*', 'depends='],
    });
    const lines: string[] = [];
    const r = await resolveModules(tree, ['a'], (l) => lines.push(l));
    assert.deepEqual(r.order, ['unrelated', 'a']);
    assert.deepEqual(r.unresolvedSoftdeps, ['nothing-provides-this']);
    assert.ok(lines.some((l) => l.includes("'something'")));
  });

  it('treats soft dependencies satisfied by built-in modules as done', async () => {
    const tree = fakeTree({ jbd2: ['softdep=pre: crypto-crc32c', 'depends='] }, [], { 'crypto-crc32c': 'crc32c' });
    assert.deepEqual((await resolveModules(tree, ['jbd2'])).order, ['jbd2']);
  });

  it('reports missing modules and dependency cycles', async () => {
    await assert.rejects(resolveModules(fakeTree(DEBIAN_LIKE), ['nonexistent']), /no module 'nonexistent'/);
    await assert.rejects(resolveModules(fakeTree({ a: ['depends=b'] }), ['a']), (e: Error) =>
      e instanceof ModuleResolveError && /'a' depends on 'b', which is not in the kernel package/.test(e.message));
    await assert.rejects(resolveModules(fakeTree({ a: ['depends=b'], b: ['depends=c'], c: ['depends=a'] }), ['a']), /cycle: a -> b -> c -> a/);
    // Soft dependencies may point back up the chain without being a cycle.
    assert.deepEqual((await resolveModules(fakeTree({ a: ['depends=b'], b: ['softdep=post: a', 'depends='] }), ['a'])).order, ['b', 'a']);
  });

  it('matches alias patterns like modprobe', () => {
    assert.ok(aliasMatches('virtio:d00000002v*', 'virtio:d00000002v00001AF4'));
    assert.ok(!aliasMatches('virtio:d00000002v*', 'virtio:d00000001v00001AF4'));
    assert.ok(aliasMatches('pci:v*d[0-9]?', 'pci:vXd7z'));
    assert.ok(aliasMatches('crypto-crc32c', 'crypto-crc32c'));
    assert.ok(!aliasMatches('crypto-crc32c', 'crypto-crc32'));
    assert.ok(!aliasMatches('a.b', 'axb'));
  });
});
