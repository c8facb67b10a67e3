// Tests of the DTB writer and reader: hand-assembled bytes, round trips, misuse, malformed blobs, and
// the device-tree compiler (dtc) as an external oracle in both directions.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatBytes } from '../test-bytes.js';
import { fdtCells, fdtFind, fdtStrings, FdtWriter, parseFdt, readFdt, type FdtNode } from './fdt.js';
import { hasTool, tempDir } from '../../../tests/lib/toolchain.js';

const te = new TextEncoder();
const u32be = (...ns: number[]) => {
  const b = new Uint8Array(4 * ns.length);
  ns.forEach((n, i) => new DataView(b.buffer).setUint32(4 * i, n));
  return b;
};
const str = (s: string) => te.encode(s + '\0');
const cat = concatBytes;
const pad4 = (b: Uint8Array) => cat(b, new Uint8Array((4 - (b.length % 4)) % 4));

/** A QEMU-virt-like tree that dtc checks without warnings. Phandles: cpu0 intc = 1, plic = 2. */
function virtTree(): FdtWriter {
  const f = new FdtWriter();
  f.begin('');
  f.prop('#address-cells', 2).prop('#size-cells', 2);
  f.prop('compatible', ['riscv-virtio']).prop('model', 'riscv-virtio,qemu');
  f.begin('chosen').propString('bootargs', 'console=ttyS0 earlycon').propString('stdout-path', '/soc/serial@10000000');
  f.end();
  f.begin('memory@80000000').propString('device_type', 'memory').propCells('reg', [0, 0x8000_0000, 0, 0x800_0000]);
  f.end();
  const intc = f.allocPhandle();
  const plic = f.allocPhandle();
  f.begin('cpus').propU32('#address-cells', 1).propU32('#size-cells', 0).propU32('timebase-frequency', 10_000_000);
  f.begin('cpu@0').propString('device_type', 'cpu').propU32('reg', 0).propString('status', 'okay');
  f.propStrings('compatible', ['riscv']).propString('riscv,isa', 'rv64imac_zicsr_zifencei').propString('mmu-type', 'riscv,sv57');
  f.begin('interrupt-controller').propU32('#address-cells', 0).propU32('#interrupt-cells', 1);
  f.propEmpty('interrupt-controller').propString('compatible', 'riscv,cpu-intc').propU32('phandle', intc);
  f.end().end().end();
  f.begin('soc').propU32('#address-cells', 2).propU32('#size-cells', 2).propString('compatible', 'simple-bus');
  f.propEmpty('ranges');
  f.begin('rtc@101000').propU32('interrupts', 11).propU32('interrupt-parent', plic);
  f.propCells('reg', [0, 0x10_1000, 0, 0x1000]).propString('compatible', 'google,goldfish-rtc').end();
  f.begin('serial@10000000').propU32('interrupts', 10).propU32('interrupt-parent', plic);
  f.propU64('clock-frequency', 0x38_4000n).propCells('reg', [0, 0x1000_0000, 0, 0x100]).propString('compatible', 'ns16550a');
  f.end();
  f.begin('plic@c000000').propU32('phandle', plic).propU32('riscv,ndev', 95);
  f.propCells('reg', [0, 0x0c00_0000, 0, 0x60_0000]).propCells('interrupts-extended', [intc, 11, intc, 9]);
  f.propEmpty('interrupt-controller').propStrings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  f.propU32('#address-cells', 0).propU32('#interrupt-cells', 1);
  f.propBytes('local-mac-address', new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1]));
  f.end();
  f.end();
  f.end();
  return f;
}

function childNames(n: FdtNode): string[] {
  return n.children.map((c) => c.name);
}

describe('FdtWriter encoding', () => {
  it('lays out header, reservation block, structure and strings exactly as spec chapter 5 says', () => {
    const f = new FdtWriter();
    f.begin('').propU32('a', 1).begin('n@1').propString('a', 'xy').propEmpty('bb').end().end();
    const blob = f.finish({ bootCpuId: 3, reserve: [[0x8000_0000n, 0x1000n]] });
    const strings = cat(str('a'), str('bb')); // 'a' stored once
    const struct = cat(
      u32be(1), pad4(str('')), // FDT_BEGIN_NODE ''
      u32be(3, 4, 0), u32be(1), // FDT_PROP len 4, nameoff 0 ('a'), value
      u32be(1), pad4(str('n@1')),
      u32be(3, 3, 0), pad4(str('xy')),
      u32be(3, 0, 2), // 'bb' at offset 2, no value
      u32be(2), u32be(2), u32be(9), // END_NODE, END_NODE, END
    );
    const rsv = cat(u32be(0, 0x8000_0000, 0, 0x1000), u32be(0, 0, 0, 0));
    const offStruct = 40 + rsv.length;
    const offStrings = offStruct + struct.length;
    const header = u32be(
      0xd00dfeed, offStrings + strings.length, offStruct, offStrings, 40, 17, 16, 3, strings.length, struct.length,
    );
    assert.deepEqual(blob, cat(header, rsv, struct, strings));
  });

  it('de-duplicates property names in the strings block', () => {
    const blob = virtTree().finish();
    const dv = new DataView(blob.buffer);
    const off = dv.getUint32(12);
    const size = dv.getUint32(32);
    const names = new TextDecoder().decode(blob.subarray(off, off + size - 1)).split('\0');
    assert.equal(new Set(names).size, names.length, 'each name once');
    assert.ok(names.includes('#address-cells') && names.includes('compatible'));
    assert.equal(dv.getUint32(16) % 8, 0, 'reservation block 8-byte aligned');
    assert.equal(dv.getUint32(8) % 4, 0, 'structure block 4-byte aligned');
  });

  it('encodes typed values big-endian, and prop() picks the encoding from the value type', () => {
    const f = new FdtWriter();
    f.begin('');
    f.prop('u32', 0x12345678).prop('cells', [1, 0xffffffff]).prop('u64', 0x1_0000_0002n).prop('s', 'ab');
    f.prop('list', ['a', 'bc']).prop('raw', new Uint8Array([9, 8, 7])).prop('empty', null).prop('none', []);
    f.end();
    const root = parseFdt(f.finish());
    const p = (n: string) => root.props.get(n);
    assert.deepEqual(p('u32'), new Uint8Array([0x12, 0x34, 0x56, 0x78]));
    assert.deepEqual(p('cells'), u32be(1, 0xffffffff));
    assert.deepEqual(p('u64'), u32be(1, 2));
    assert.deepEqual(p('s'), new Uint8Array([0x61, 0x62, 0]));
    assert.deepEqual(p('list'), new Uint8Array([0x61, 0, 0x62, 0x63, 0]));
    assert.deepEqual(p('raw'), new Uint8Array([9, 8, 7]));
    assert.deepEqual(p('empty'), new Uint8Array(0));
    assert.deepEqual(p('none'), new Uint8Array(0));
    assert.deepEqual(fdtCells(p('cells')!), [1, 0xffffffff]);
    assert.deepEqual(fdtStrings(p('list')!), ['a', 'bc']);
  });

  it('allocates phandles from 1', () => {
    const f = new FdtWriter();
    assert.equal(f.allocPhandle(), 1);
    assert.equal(f.allocPhandle(), 2);
  });
});

describe('FdtWriter misuse', () => {
  const rooted = () => new FdtWriter().begin('');
  it('rejects unbalanced begin/end', () => {
    assert.throws(() => new FdtWriter().end(), /without a matching begin/);
    assert.throws(() => rooted().begin('a').end().finish(), /not closed/);
    assert.throws(() => new FdtWriter().finish(), /no root/);
    assert.throws(() => rooted().end().begin('x'), /one root/);
    assert.throws(() => rooted().end().end(), /without a matching begin/);
  });
  it('rejects properties after child nodes and outside nodes', () => {
    assert.throws(() => rooted().begin('a').end().propU32('x', 1), /after child nodes/);
    assert.throws(() => new FdtWriter().propU32('x', 1), /outside any node/);
    assert.throws(() => rooted().end().propU32('x', 1), /outside any node/);
  });
  it('rejects invalid and duplicate names', () => {
    assert.throws(() => new FdtWriter().begin('root'), /root node must be named/);
    for (const bad of ['', '1abc', 'a b', 'a/b', 'a@', 'x'.repeat(32), 'é', 'a@b@c', '@1']) {
      assert.throws(() => rooted().begin(bad), /invalid node name/, JSON.stringify(bad));
    }
    for (const ok of ['a', 'cpu@0', 'x'.repeat(31), 'virtio_mmio@10001000', 'A,b.c_d+e-f@1,2']) {
      assert.doesNotThrow(() => rooted().begin(ok), ok);
    }
    for (const bad of ['', 'a b', 'x'.repeat(32), 'a@b', 'a/b']) {
      assert.throws(() => rooted().propEmpty(bad), /invalid property name/, JSON.stringify(bad));
    }
    assert.doesNotThrow(() => rooted().propEmpty('#address-cells').propEmpty('linux,initrd-start').propEmpty('a?'));
    assert.throws(() => rooted().propU32('x', 1).propU32('x', 2), /duplicate property/);
    assert.throws(() => rooted().begin('a').end().begin('a'), /duplicate node/);
  });
  it('rejects values that do not fit their encoding', () => {
    assert.throws(() => rooted().propU32('x', -1), /not a u32/);
    assert.throws(() => rooted().propU32('x', 2 ** 32), /not a u32/);
    assert.throws(() => rooted().propU32('x', 1.5), /not a u32/);
    assert.throws(() => rooted().propU64('x', 1n << 64n), /not a u64/);
    assert.throws(() => rooted().propU64('x', -1n), /not a u64/);
    assert.throws(() => rooted().propString('x', 'a\0b'), /NUL/);
    assert.throws(() => rooted().prop('x', ['a', 1] as unknown as string[]), /mixes/);
  });
  it('rejects bad header options and use after finish', () => {
    const done = () => rooted().end();
    assert.throws(() => done().finish({ bootCpuId: -1 }), /boot CPU/);
    assert.throws(() => done().finish({ reserve: [[0x1000n, 0n]] }), /bad memory reservation/);
    assert.throws(() => done().finish({ reserve: [[(1n << 64n) - 1n, 2n]] }), /bad memory reservation/);
    const f = done();
    f.finish();
    assert.throws(() => f.finish(), /already finished/);
    assert.throws(() => f.begin('a'), /already finished/);
  });
});

describe('FDT reader', () => {
  it('round-trips the tree, header and reservations', () => {
    const blob = virtTree().finish({ bootCpuId: 0, reserve: [[0x8000_0000n, 0x20_0000n], [0x1_0000_0000n, 1n]] });
    const fdt = readFdt(blob);
    assert.equal(fdt.version, 17);
    assert.equal(fdt.lastCompVersion, 16);
    assert.equal(fdt.bootCpuId, 0);
    assert.deepEqual(fdt.reserve, [[0x8000_0000n, 0x20_0000n], [0x1_0000_0000n, 1n]]);
    const root = fdt.root;
    assert.equal(root.name, '');
    assert.deepEqual(childNames(root), ['chosen', 'memory@80000000', 'cpus', 'soc']);
    assert.deepEqual([...root.props.keys()], ['#address-cells', '#size-cells', 'compatible', 'model']);
    assert.deepEqual(fdtStrings(root.props.get('compatible')!), ['riscv-virtio']);
    const plic = fdtFind(root, '/soc/plic@c000000')!;
    assert.deepEqual(fdtCells(plic.props.get('interrupts-extended')!), [1, 11, 1, 9]);
    assert.deepEqual(fdtStrings(plic.props.get('compatible')!), ['sifive,plic-1.0.0', 'riscv,plic0']);
    assert.deepEqual(plic.props.get('interrupt-controller'), new Uint8Array(0));
    assert.deepEqual(plic.props.get('local-mac-address'), new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1]));
    const intc = fdtFind(root, 'cpus/cpu@0/interrupt-controller')!;
    assert.deepEqual(fdtCells(intc.props.get('phandle')!), [1]);
    assert.equal(fdtFind(root, '/cpus/cpu@1'), undefined);
    assert.equal(fdtFind(root, '/'), root);
  });

  it('skips FDT_NOP tokens', () => {
    const f = new FdtWriter();
    const blob = f.begin('').propU32('a', 5).end().finish();
    // Replace the property (12 bytes header + 4 value) with four NOPs.
    const offStruct = new DataView(blob.buffer).getUint32(8);
    const patched = blob.slice();
    patched.set(u32be(4, 4, 4, 4), offStruct + 8);
    const root = parseFdt(patched);
    assert.equal(root.props.size, 0);
  });

  it('rejects malformed blobs with an error, never a crash', () => {
    const good = virtTree().finish();
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const mutate = (fn: (b: Uint8Array) => void) => {
      const b = good.slice();
      fn(b);
      return b;
    };
    assert.throws(() => parseFdt(good.subarray(0, 20)), /shorter than its header/);
    assert.throws(() => parseFdt(mutate((b) => (b[0] = 0))), /bad magic/);
    assert.throws(() => parseFdt(good.subarray(0, good.length - 1)), /totalsize/);
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(20, 16))), /unsupported version/);
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(36, 0x10000))), /structure block out of bounds/);
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(32, 0x10000))), /strings block out of bounds/);
    const offStruct = dv(good).getUint32(8);
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(offStruct, 7))), /unknown token/);
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(offStruct + 8, 2))), /token|FDT_END/);
    // first property of the root: name offset far outside the strings block
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(offStruct + 16, 0xffff))), /name offset/);
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(offStruct + 12, 0xffff))), /runs past/);
    // drop the FDT_END token: the structure block ends early
    assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(36, dv(b).getUint32(36) - 4))), /before FDT_END/);
    // every truncation of the structure block size fails cleanly
    const sizeStruct = dv(good).getUint32(36);
    for (let s = 0; s < sizeStruct; s += 4) {
      assert.throws(() => parseFdt(mutate((b) => dv(b).setUint32(36, s))), /^Error: fdt: /);
    }
  });
});

const dtcSkip = hasTool('dtc') ? false : 'dtc not installed (apt-get install device-tree-compiler)';

describe('dtc as an oracle', { skip: dtcSkip }, () => {
  const dir = dtcSkip ? '' : tempDir('tvisor-fdt-');
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const dtc = (args: string[]) => spawnSync('dtc', args, { encoding: 'utf8' });

  it('dtc decompiles our blob without warnings and shows the expected nodes and properties', () => {
    const blob = virtTree().finish({ bootCpuId: 0, reserve: [[0x8000_0000n, 0x20_0000n]] });
    const file = join(dir, 'ours.dtb');
    writeFileSync(file, blob);
    const r = dtc(['-I', 'dtb', '-O', 'dts', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'dtc checks pass without warnings');
    const dts = r.stdout;
    for (const line of [
      '/memreserve/\t0x0000000080000000 0x0000000000200000;',
      'compatible = "riscv-virtio";',
      'memory@80000000 {',
      'reg = <0x00 0x80000000 0x00 0x8000000>;',
      'bootargs = "console=ttyS0 earlycon";',
      'timebase-frequency = <0x989680>;',
      'riscv,isa = "rv64imac_zicsr_zifencei";',
      'interrupt-controller;',
      'phandle = <0x01>;',
      'compatible = "sifive,plic-1.0.0\\0riscv,plic0";',
      'interrupts-extended = <0x01 0x0b 0x01 0x09>;',
      'clock-frequency = <0x00 0x384000>;',
      'local-mac-address = [de ad be ef 00 01];',
      'rtc@101000 {',
      'ranges;',
    ]) {
      assert.ok(dts.includes(line), `dts lacks ${JSON.stringify(line)}:\n${dts}`);
    }
  });

  it('dtc re-encodes our blob byte for byte, with boot CPU and reservations', () => {
    const blob = virtTree().finish({ bootCpuId: 2, reserve: [[0x8000_0000n, 0x20_0000n], [0x9000_0000n, 0x10n]] });
    const src = join(dir, 'in.dtb');
    const out = join(dir, 'out.dtb');
    writeFileSync(src, blob);
    const r = dtc(['-I', 'dtb', '-O', 'dtb', '-o', out, src]);
    assert.equal(r.status, 0, r.stderr);
    const again = new Uint8Array(readFileSync(out));
    assert.deepEqual(readFdt(again), readFdt(blob));
    assert.deepEqual(again, blob);
  });

  it('parses a dts compiled by dtc to the expected values, and our writer builds the same blob', () => {
    const dts = `/dts-v1/;
/memreserve/ 0x80000000 0x200000;
/memreserve/ 0x87e00000 0x1000;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "riscv-virtio";
	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@1 {
			device_type = "cpu";
			reg = <1>;
			intc: interrupt-controller {
				#address-cells = <0>;
				#interrupt-cells = <1>;
				interrupt-controller;
				compatible = "riscv,cpu-intc";
			};
		};
	};
	soc {
		#address-cells = <2>;
		#size-cells = <2>;
		ranges;
		plic: interrupt-controller@c000000 {
			compatible = "sifive,plic-1.0.0", "riscv,plic0";
			#address-cells = <0>;
			#interrupt-cells = <1>;
			interrupt-controller;
			interrupts-extended = <&intc 11 &intc 9>;
			reg = <0x0 0xc000000 0x0 0x600000>;
			riscv,ndev = <95>;
		};
		rtc@101000 {
			compatible = "google,goldfish-rtc";
			reg = /bits/ 64 <0x101000 0x1000>;
			interrupt-parent = <&plic>;
			interrupts = <11>;
			local-mac-address = [de ad be ef 00 01];
		};
	};
};
`;
    const src = join(dir, 'ref.dts');
    const out = join(dir, 'ref.dtb');
    writeFileSync(src, dts);
    const r = dtc(['-I', 'dts', '-O', 'dtb', '-b', '1', '-o', out, src]);
    assert.equal(r.status, 0, r.stderr);
    const ref = new Uint8Array(readFileSync(out));
    const fdt = readFdt(ref);
    assert.equal(fdt.bootCpuId, 1);
    assert.deepEqual(fdt.reserve, [[0x8000_0000n, 0x20_0000n], [0x87e0_0000n, 0x1000n]]);
    const root = fdt.root;
    assert.deepEqual(childNames(root), ['cpus', 'soc']);
    assert.deepEqual(root.props.get('#address-cells'), u32be(2));
    assert.deepEqual(root.props.get('compatible'), str('riscv-virtio'));
    const intc = fdtFind(root, '/cpus/cpu@1/interrupt-controller')!;
    assert.deepEqual(intc.props.get('interrupt-controller'), new Uint8Array(0));
    const intcPh = intc.props.get('phandle')!;
    const plic = fdtFind(root, '/soc/interrupt-controller@c000000')!;
    const plicPh = plic.props.get('phandle')!;
    assert.equal(intcPh.length, 4);
    assert.notDeepEqual(intcPh, plicPh);
    assert.deepEqual(plic.props.get('compatible'), cat(str('sifive,plic-1.0.0'), str('riscv,plic0')));
    assert.deepEqual(plic.props.get('interrupts-extended'), cat(intcPh, u32be(11), intcPh, u32be(9)));
    assert.deepEqual(plic.props.get('reg'), u32be(0, 0xc00_0000, 0, 0x60_0000));
    const rtc = fdtFind(root, '/soc/rtc@101000')!;
    assert.deepEqual(rtc.props.get('reg'), u32be(0, 0x10_1000, 0, 0x1000));
    assert.deepEqual(rtc.props.get('interrupt-parent'), plicPh);
    assert.deepEqual(rtc.props.get('local-mac-address'), new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1]));
    assert.deepEqual([...rtc.props.keys()], ['compatible', 'reg', 'interrupt-parent', 'interrupts', 'local-mac-address']);

    // The same tree through FdtWriter, with the phandles dtc chose appended as dtc does: identical bytes.
    const f = new FdtWriter();
    const ph = (b: Uint8Array) => fdtCells(b)[0];
    f.begin('').propU32('#address-cells', 2).propU32('#size-cells', 2).propString('compatible', 'riscv-virtio');
    f.begin('cpus').propU32('#address-cells', 1).propU32('#size-cells', 0);
    f.begin('cpu@1').propString('device_type', 'cpu').propU32('reg', 1);
    f.begin('interrupt-controller').propU32('#address-cells', 0).propU32('#interrupt-cells', 1);
    f.propEmpty('interrupt-controller').propString('compatible', 'riscv,cpu-intc').propU32('phandle', ph(intcPh));
    f.end().end().end();
    f.begin('soc').propU32('#address-cells', 2).propU32('#size-cells', 2).propEmpty('ranges');
    f.begin('interrupt-controller@c000000').propStrings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
    f.propU32('#address-cells', 0).propU32('#interrupt-cells', 1).propEmpty('interrupt-controller');
    f.propCells('interrupts-extended', [ph(intcPh), 11, ph(intcPh), 9]).propCells('reg', [0, 0xc00_0000, 0, 0x60_0000]);
    f.propU32('riscv,ndev', 95).propU32('phandle', ph(plicPh)).end();
    f.begin('rtc@101000').propString('compatible', 'google,goldfish-rtc').propCells('reg', [0, 0x10_1000, 0, 0x1000]);
    f.propU32('interrupt-parent', ph(plicPh)).propU32('interrupts', 11);
    f.propBytes('local-mac-address', new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1]));
    f.end().end().end();
    const mine = f.finish({ bootCpuId: 1, reserve: [[0x8000_0000n, 0x20_0000n], [0x87e0_0000n, 0x1000n]] });
    assert.deepEqual(mine, ref);
  });
});
