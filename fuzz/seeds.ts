// Writes the seed corpora (fuzz/corpus/<target>/): small valid inputs that get the fuzzer past each format's
// magic numbers and checksums at once. Run `node dist/fuzz/seeds.js` after changing a format; the output is
// committed and replayed by regressions.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { writeCpio, S_IFDIR, S_IFREG, S_IFLNK } from '../src/images/cpio.js';
import { tinyImage } from '../src/core/machine/test-images.js';
import { makeModuleElf } from '../src/images/test-fixtures.js';
import { ROUTES } from '../src/api/actions.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const enc = new TextEncoder();
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

function put(target: string, name: string, bytes: Uint8Array): void {
  const dir = path.join(root, 'fuzz', 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), bytes);
}

/** Deterministic pseudo-random bytes (xorshift), for the program-like targets. */
function noise(seed: number, n: number): Uint8Array {
  let x = seed || 1;
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x & 0xff;
  });
}

// ---- api: [method, path mode, route, id choice, index choice, query, content type, body?, body] (targets/api.ts)
const METHODS = ['GET', 'POST', 'PATCH', 'DELETE'];
function apiSeed(method: string, routePath: string, body?: string): Uint8Array {
  const route = ROUTES.findIndex((r) => r.path === routePath);
  const head = [METHODS.indexOf(method), 1, route, 1, 1, 3, 1, 1, body === undefined ? 1 : 0];
  return cat(Uint8Array.from(head), enc.encode(body ?? ''));
}
const spec = { name: 'web', vcpus: 2, memory_mib: 256, kernel: '/srv/vms/Image', initrd: '/srv/vms/initrd', cmdline: 'console=hvc0', disks: [{ path: '/srv/vms/root.img', overlay: '/srv/vms/root.ovl', rate_limiter: { bandwidth: { size: 1048576, refill_time_ms: 100, one_time_burst: 4096 } } }], nics: [{ mac: '52:54:00:12:34:56', rate_limiter: { ops: { size: 100, refill_time_ms: 1000 } } }], weight: 512, cap: 50 };
put('api', 'create', apiSeed('POST', '/v1/vms', JSON.stringify(spec)));
put('api', 'create-min', apiSeed('POST', '/v1/vms', JSON.stringify({ name: 'a', vcpus: 1, memory_mib: 64, kernel: '/k' })));
put('api', 'patch', apiSeed('PATCH', '/v1/vms/{id}', JSON.stringify({ weight: 100, cap: 0, balloon_mib: 16 })));
put('api', 'patch-disk', apiSeed('PATCH', '/v1/vms/{id}/disks/{index}', JSON.stringify({ rate_limiter: { bandwidth: { size: 1, refill_time_ms: 1 } } })));
put('api', 'patch-nic', apiSeed('PATCH', '/v1/vms/{id}/nics/{index}', '{"rate_limiter":null}'));
put('api', 'start', apiSeed('POST', '/v1/vms/{id}/start'));

// ---- elf: a minimal RV64 executable with one PT_LOAD, and a relocatable object with a symbol table
function minimalElf(): Uint8Array {
  const b = new Uint8Array(0x1000 + 8);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); v.setUint16(18, 243, true); v.setUint32(20, 1, true);
  v.setBigUint64(24, 0x80200000n, true); v.setBigUint64(32, 64n, true);
  v.setUint16(52, 64, true); v.setUint16(54, 56, true); v.setUint16(56, 1, true); v.setUint16(58, 64, true);
  v.setUint32(64, 1, true); v.setUint32(68, 5, true);
  v.setBigUint64(72, 0x1000n, true); v.setBigUint64(80, 0x80200000n, true); v.setBigUint64(88, 0x80200000n, true);
  v.setBigUint64(96, 8n, true); v.setBigUint64(104, 0x2000n, true);
  v.setUint32(0x1000, 0x10500073, true); v.setUint32(0x1004, 0xffdff06f, true);
  return b;
}
put('elf', 'exec', minimalElf());
put('elf', 'module', makeModuleElf(['alias=virtio:d00000002v*', 'license=GPL']));

// ---- image: [mode, initrd size] then a RISC-V Image
put('image', 'image', cat(Uint8Array.of(1, 1), tinyImage([0x10500073, 0xffdff06f])));
put('image', 'image-shrunk', cat(Uint8Array.of(0, 0), tinyImage([0x10500073])));
put('image', 'elf', cat(Uint8Array.of(1, 0), minimalElf()));
function efiImage(): Uint8Array {
  const b = new Uint8Array(0x3000);
  const v = new DataView(b.buffer);
  b.set([0x4d, 0x5a]); // "MZ", then an EFI stub's PE header with .text and .data, as Debian's Image has
  v.setBigUint64(8, 0x200000n, true);
  v.setBigUint64(16, 0x4000n, true);
  b.set([0x52, 0x53, 0x43, 0x05], 0x38);
  v.setUint32(0x3c, 0x40, true);
  b.set([0x50, 0x45, 0, 0], 0x40);
  v.setUint16(0x46, 2, true);
  v.setUint32(0x58 + 16, 0x1000, true); v.setUint32(0x58 + 20, 0x1000, true);
  v.setUint32(0x80 + 16, 0x2000, true); v.setUint32(0x80 + 20, 0x1000, true);
  return b;
}
put('image', 'efi-image', cat(Uint8Array.of(1, 2), efiImage()));

// ---- virtio: programs (fuzz/lib/virtio.ts) from noise, which the fuzzer turns into chains quickly
for (const d of ['blk', 'net', 'console', 'rng', 'balloon']) {
  for (let i = 1; i <= 3; i++) put(`virtio-${d}`, `noise-${i}`, noise(i * 7919 + d.length, 600));
}

// ---- sbi
for (let i = 1; i <= 3; i++) put('sbi', `noise-${i}`, noise(i * 104729, 400));

// ---- overlay: the first 80 bytes of a valid header for a 64 KiB base, one block in the bitmap, its data
function overlaySeed(blocks: number[]): Uint8Array {
  const h = new Uint8Array(80);
  const v = new DataView(h.buffer);
  h.set(enc.encode('TVOVL001'));
  v.setUint32(8, 1, true); v.setUint32(12, 4096, true); v.setUint32(16, 4096, true);
  v.setBigUint64(24, 65536n, true); v.setBigUint64(32, 65536n, true); v.setBigUint64(40, 4096n, true);
  v.setBigUint64(48, 4096n, true); v.setBigUint64(56, 8192n, true); v.setUint32(64, 4, true);
  h.set(enc.encode('/b.i'), 68);
  const bitmap = new Uint8Array(4096);
  for (const blk of blocks) bitmap[blk >> 3] |= 1 << (blk & 7);
  return cat(h, bitmap, new Uint8Array(4096 * (Math.max(-1, ...blocks) + 1)).fill(0x77));
}
put('overlay', 'empty', new Uint8Array(0));
put('overlay', 'one-block', overlaySeed([0]));
put('overlay', 'two-blocks', overlaySeed([1, 3]));

// ---- cpio
put('cpio', 'initramfs', writeCpio([
  { name: 'bin', mode: S_IFDIR | 0o755 },
  { name: 'init', mode: S_IFREG | 0o755, data: enc.encode('#!/bin/sh\necho hi\n') },
  { name: 'bin/sh', mode: S_IFLNK | 0o777, data: enc.encode('busybox') },
]));

// ---- tar: ustar entries, a pax header and a GNU long name
function tarHeader(name: string, size: number, flag: string, prefix = ''): Uint8Array {
  const h = new Uint8Array(512);
  const field = (at: number, text: string) => h.set(enc.encode(text), at);
  field(0, name); field(100, '0000644\0'); field(108, '0000000\0'); field(116, '0000000\0');
  field(124, size.toString(8).padStart(11, '0') + '\0'); field(136, '00000000000\0');
  field(156, flag); field(257, 'ustar\0'); field(263, '00'); field(345, prefix);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, c) => a + c, 0);
  field(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}
const pad512 = (b: Uint8Array) => cat(b, new Uint8Array((512 - (b.length % 512)) % 512));
function tarOf(files: [string, string][]): Uint8Array {
  const pax = enc.encode('30 path=usr/share/doc/long-nm\n');
  const parts = [tarHeader('./', 0, '5'), tarHeader('PaxHeader', pax.length, 'x'), pad512(pax), tarHeader('ignored', 3, '0'), pad512(enc.encode('pax'))];
  const long = enc.encode('usr/share/a/very/long/name/for/gnu\0');
  parts.push(tarHeader('././@LongLink', long.length, 'L'), pad512(long), tarHeader('x', 1, '0'), pad512(enc.encode('L')));
  for (const [name, text] of files) parts.push(tarHeader(name, text.length, '0'), pad512(enc.encode(text)));
  parts.push(tarHeader('lib', 0, '2'), new Uint8Array(1024));
  return cat(...parts);
}
const tar = tarOf([['./usr/bin/hello', 'ELF...'], ['./etc/passwd', 'root:x:0:0::/root:/bin/sh\n']]);
put('tar', 'pax-gnu', cat(Uint8Array.of(8, 0), tar));
put('tar', 'chunked', cat(Uint8Array.of(0, 1), tar));

// ---- ar and deb
function arOf(members: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [enc.encode('!<arch>\n')];
  for (const [name, data] of members) {
    const h = `${(name + '/').padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`;
    parts.push(enc.encode(h), data);
    if (data.length & 1) parts.push(enc.encode('\n'));
  }
  return cat(...parts);
}
const control = tarOf([['./control', 'Package: hello\nVersion: 1.0\nArchitecture: riscv64\n']]);
put('ar', 'two-members', arOf([['debian-binary', enc.encode('2.0\n')], ['odd', enc.encode('abc')]]));
put('deb', 'plain', arOf([['debian-binary', enc.encode('2.0\n')], ['control.tar', control], ['data.tar', tar]]));
put('deb', 'gzip', arOf([['debian-binary', enc.encode('2.0\n')], ['control.tar.gz', zlib.gzipSync(control)], ['data.tar.gz', zlib.gzipSync(tar)]]));
console.log('seeds written to fuzz/corpus/');
