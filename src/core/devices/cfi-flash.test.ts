// The CFI NOR flash bank: array reads of every width, the CFI query as Linux's cfi_probe reads it, read ID,
// word program, buffered program and block erase with the exact accesses EDK2's VirtNorFlashDxe makes, the
// status register, a read-only bank, hostile command sequences, and save/restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CfiFlash, FLASH_BANK_SIZE, FLASH_BANK_WIDTH, FLASH_SECTOR_SIZE, FLASH_BASE } from './cfi-flash.js';

/** A command as EDK2's SEND_NOR_COMMAND writes it: to both x16 devices, one per 16-bit lane. */
const dual = (cmd: number): number => ((cmd << 16) | cmd) >>> 0;
/** EDK2's P30_SR_BIT_WRITE: SR.7 in both lanes. */
const READY = dual(0x80);

function bank(opts: { readOnly?: boolean; fill?: (s: Uint8Array) => void } = {}) {
  const storage = new Uint8Array(FLASH_BANK_SIZE);
  opts.fill?.(storage);
  const writes: [number, number][] = [];
  const f = new CfiFlash({ storage, readOnly: opts.readOnly, onWrite: (o, n) => writes.push([o, n]) });
  return { f, storage, writes };
}

const send = (f: CfiFlash, offset: number, cmd: number): void => f.write(offset, 4, dual(cmd));
const r32 = (f: CfiFlash, offset: number): number => f.read(offset, 4) as number;

/** EDK2's NorFlashReadStatusRegister: 0x70 at the bank's base, a 32-bit read there; polled until SR.7 in both lanes. */
function edk2Status(f: CfiFlash): number {
  for (let i = 0; i < 100; i++) {
    send(f, 0, 0x70);
    const sr = r32(f, 0);
    if ((sr & READY) === READY) return sr;
  }
  throw new Error('status never ready');
}

/** EDK2's NorFlashBlockIsLocked: 0x90 at the block's base + 2 words, the lock status read there, both lanes folded. */
function edk2BlockLocked(f: CfiFlash, block: number): boolean {
  send(f, block + 8, 0x90);
  const v = r32(f, block + 8);
  return (((v >>> 16) | (v & 0xffff)) & 1) !== 0;
}

/**
 * EDK2's NorFlashWriteBuffer (VirtNorFlash.c): 0xE8 at the target until a read there shows SR.7 in both lanes,
 * the word count - 1 to both devices, the data as 32-bit stores, 0xD0 at the bank's base (not the block's),
 * status polling, and 0x50 at the base when no error bit (SR.3, SR.4, SR.1) is set. Returns the status.
 */
function edk2WriteBuffer(f: CfiFlash, target: number, words: number[]): number {
  let available = false;
  for (let i = 0; i < 100 && !available; i++) {
    send(f, target, 0xe8);
    available = (r32(f, target) & READY) === READY;
  }
  assert.ok(available, 'the buffer is available');
  send(f, target, words.length - 1);
  words.forEach((w, i) => f.write(target + 4 * i, 4, w));
  send(f, 0, 0xd0);
  const sr = edk2Status(f);
  if ((sr & dual(0x1a)) === 0) send(f, 0, 0x50);
  return sr;
}

/** EDK2's NorFlashEraseSingleBlock: 0x20 and 0xD0 at the block, status polling, 0x50 on error, 0xFF at the base. */
function edk2Erase(f: CfiFlash, block: number): number {
  send(f, block, 0x20);
  send(f, block, 0xd0);
  const sr = edk2Status(f);
  if (sr & dual(0x3a)) send(f, 0, 0x50);
  send(f, 0, 0xff);
  return sr;
}

test('flash: the bank and its geometry match QEMU virt: 32 MiB banks at 0x20000000 of 256 KiB sectors, 4 bytes wide', () => {
  assert.equal(FLASH_BASE, 0x2000_0000);
  assert.equal(FLASH_BASE + FLASH_BANK_SIZE, 0x2200_0000);
  assert.equal(FLASH_BANK_SIZE, 0x200_0000);
  assert.equal(FLASH_SECTOR_SIZE, 0x4_0000);
  assert.equal(FLASH_BANK_SIZE / FLASH_SECTOR_SIZE, 128);
  assert.equal(FLASH_BANK_WIDTH, 4);
  const { f } = bank();
  assert.equal(f.size, FLASH_BANK_SIZE);
  assert.throws(() => new CfiFlash({ storage: new Uint8Array(FLASH_SECTOR_SIZE + 1) }), /whole number/);
  assert.throws(() => new CfiFlash({ storage: new Uint8Array(0) }), /whole number/);
});

test('flash: array reads of widths 1, 2, 4 and 8 at any offset, little-endian, 8 as a bigint', () => {
  const { f } = bank({ fill: (s) => s.forEach((_, i) => (s[i] = (i * 7 + (i >>> 8)) & 0xff)) });
  const byte = (i: number) => (i * 7 + (i >>> 8)) & 0xff;
  assert.equal(f.arrayMode, true);
  for (const off of [0, 1, 2, 3, 5, 0x1001, FLASH_SECTOR_SIZE - 3, FLASH_BANK_SIZE - 8]) {
    assert.equal(f.read(off, 1), byte(off));
    assert.equal(f.read(off, 2), byte(off) | (byte(off + 1) << 8));
    assert.equal(f.read(off, 4), (byte(off) | (byte(off + 1) << 8) | (byte(off + 2) << 16) | (byte(off + 3) << 24)) >>> 0);
    let want = 0n;
    for (let i = 7; i >= 0; i--) want = (want << 8n) | BigInt(byte(off + i));
    assert.equal(f.read(off, 8), want);
  }
  assert.equal(typeof f.read(8, 8), 'bigint');
  assert.equal(f.read(FLASH_BANK_SIZE - 1, 1), byte(FLASH_BANK_SIZE - 1), 'the last byte');
  const { f: g } = bank({ fill: (s) => s.fill(0xff) });
  assert.equal(g.read(0, 4), 0xffff_ffff, 'a full word reads unsigned');
  assert.equal(g.read(0, 8), 0xffff_ffff_ffff_ffffn);
});

test('flash: the CFI query, read as Linux\'s cfi_probe does, describes two x16 devices of 16 MiB in 128 blocks of 128 KiB', () => {
  const { f, storage } = bank();
  storage.set([0xde, 0xad, 0xbe, 0xef], 0x40);
  // cfi_qry_mode_on for each geometry it tries: 0xF0 at 0, then 0x98 at query address 0x55
  send(f, 0, 0xf0);
  send(f, 0x55 * 4, 0x98);
  assert.equal(f.arrayMode, false);
  const q = (n: number) => r32(f, n * FLASH_BANK_WIDTH); // query address n, as for interleave 2 x16: n * 2 * 2
  // cfi_qry_present compares whole bus words with cfi_build_cmd('Q'): only the 2 x16 pattern matches
  assert.equal(q(0x10), 0x0051_0051);
  assert.equal(q(0x11), 0x0052_0052);
  assert.equal(q(0x12), 0x0059_0059);
  assert.notEqual(q(0x10), 0x5151_5151, 'not 4 x8 devices');
  assert.notEqual(q(0x10), 0x51, 'not one x32 device');
  // cfi_read_query takes the low byte of each bus word; both lanes answer the same
  const b = (n: number): number => {
    const v = q(n);
    assert.equal(v >>> 16, v & 0xffff, `both devices answer query address 0x${n.toString(16)}`);
    assert.ok((v & 0xffff) < 0x100);
    return v & 0xff;
  };
  assert.equal(b(0x13) | (b(0x14) << 8), 0x0001, 'primary command set: Intel/Sharp extended');
  assert.equal(b(0x15) | (b(0x16) << 8), 0x0031, 'primary extended table address');
  assert.equal(b(0x17) | (b(0x18) << 8), 0, 'no alternate command set');
  assert.equal(b(0x27), 24, 'device size 2^24: 16 MiB per device');
  assert.equal(2 * 2 ** b(0x27), FLASH_BANK_SIZE, 'two devices make the 32 MiB bank (Linux: (1 << DevSize) * interleave)');
  assert.equal(b(0x28) | (b(0x29) << 8), 0x0002, 'x8/x16 asynchronous interface');
  assert.equal(b(0x2a) | (b(0x2b) << 8), 11, 'write buffer 2^11 bytes per device');
  assert.equal(2 << b(0x2a), 4096, 'Linux\'s wbufsize: interleave << MaxBufWriteSize');
  assert.notEqual(b(0x20), 0, 'a buffer write time: Linux uses buffered writes');
  assert.equal(b(0x2c), 1, 'one erase block region');
  const region = (b(0x2d) | (b(0x2e) << 8) | (b(0x2f) << 16) | (b(0x30) << 24)) >>> 0;
  assert.equal(region, 0x0200_007f, '128 blocks (127 + 1) of 0x200 * 256 bytes');
  assert.equal((region & 0xffff) + 1, 128);
  assert.equal(((region >>> 8) & ~0xff) * 2, FLASH_SECTOR_SIZE, 'Linux\'s erase size: block size * interleave');
  assert.deepEqual([0x31, 0x32, 0x33, 0x34, 0x35].map(b), [0x50, 0x52, 0x49, 0x31, 0x30], '"PRI" version "1" "0"');
  assert.equal(b(0x3f), 1, 'one protection register field');
  assert.equal(q(0x60), 0, 'past the structure');
  assert.equal(q(0x1000), 0);
  // byte lanes: query address 0x10 of device 0 is byte 0x40, its high byte 0x41 is zero, device 1 at 0x42
  assert.deepEqual([0x40, 0x41, 0x42, 0x43].map((a) => f.read(a, 1)), [0x51, 0x00, 0x51, 0x00]);
  assert.equal(f.read(0x40, 2), 0x0051);
  assert.equal(f.read(0x40, 8), 0x0052_0052_0051_0051n, 'a 64-bit load is two bus words');
  // cfi_qry_mode_off: 0xF0 then 0xFF: the array again
  send(f, 0, 0xf0);
  send(f, 0, 0xff);
  assert.equal(f.arrayMode, true);
  assert.equal(r32(f, 0x40), 0xefbe_adde);
});

test('flash: read ID answers Intel\'s manufacturer code and device 0x18 per device, and blocks read unlocked', () => {
  const { f } = bank();
  // cfi_chip_setup: 0xF0, AMD's unlock cycles (unknown here: back to read array), then 0x90
  send(f, 0, 0xf0);
  send(f, 0x555 * 4, 0xaa);
  assert.equal(f.arrayMode, true, 'an unknown command leaves the bank reading the array');
  send(f, 0x2aa * 4, 0x55);
  send(f, 0x555 * 4, 0x90);
  assert.equal(f.arrayMode, false);
  assert.equal(r32(f, 0), 0x0089_0089);
  assert.equal(r32(f, 4), 0x0018_0018);
  assert.equal(f.read(0, 2), 0x89, 'cfi_read_query16 at the base');
  assert.equal(f.read(4, 2), 0x18, 'and at one bus word up');
  assert.equal(r32(f, 8), 0, 'block lock status: unlocked');
  assert.equal(edk2BlockLocked(f, 5 * FLASH_SECTOR_SIZE), false, 'EDK2 finds the block unlocked and sends no unlock');
  send(f, 0, 0xff);
  assert.equal(f.arrayMode, true);
});

test('flash: word program (0x40 or 0x10) ANDs the data into the array and reports the bytes that changed', () => {
  const { f, storage, writes } = bank({ fill: (s) => s.fill(0xff) });
  storage.set([0xf0, 0xff, 0x0f, 0xaa], 0x100);
  send(f, 0x100, 0x40);
  assert.equal(f.arrayMode, false);
  assert.equal(r32(f, 0x100), READY, 'status while waiting for the data');
  f.write(0x100, 4, 0x1234_5678);
  assert.deepEqual([...storage.subarray(0x100, 0x104)], [0xf0 & 0x78, 0xff & 0x56, 0x0f & 0x34, 0xaa & 0x12]);
  assert.deepEqual(writes, [[0x100, 4]]);
  assert.equal(r32(f, 0x100), READY, 'the bank shows status after the program');
  assert.equal(edk2Status(f) & dual(0x1a), 0, 'no error bits');
  send(f, 0, 0xff);
  assert.equal(r32(f, 0x100), 0x0204_5670);

  // 0x10, a 2-byte program: bits can only be cleared; 1s over 0s change nothing
  f.write(0x200, 2, 0x0010);
  f.write(0x202, 2, 0xbeef);
  assert.deepEqual(writes.at(-1), [0x202, 2]);
  send(f, 0, 0xff);
  assert.equal(f.read(0x200, 4), 0xbeef_ffff);
  writes.length = 0;
  send(f, 0x100, 0x40);
  f.write(0x100, 4, 0xffff_ffff);
  assert.deepEqual(writes, [], 'nothing changed, nothing reported');
  send(f, 0x100, 0x40);
  f.write(0x100, 4, 0xffff_0fff); // only byte 1 can lose bits: 0x56 & 0x0f
  assert.deepEqual(writes, [[0x101, 1]]);
  send(f, 0, 0xff);
  assert.equal(r32(f, 0x100), 0x0204_0670, '0 bits stay 0: old AND new');
});

test('flash: a 64-bit store is two 32-bit bus cycles, low word first', () => {
  const { f, storage } = bank({ fill: (s) => s.fill(0xff) });
  f.write(0x300, 8, (0x1122_3344n << 32n) | BigInt(dual(0x40)));
  assert.deepEqual([...storage.subarray(0x300, 0x308)], [0xff, 0xff, 0xff, 0xff, 0x44, 0x33, 0x22, 0x11]);
  assert.equal(f.read(0x300, 8), BigInt(READY) | (BigInt(READY) << 32n), 'status in both bus words');
});

test('flash: buffered program as EDK2\'s VirtNorFlashDxe does it: 0xE8, count 31 to both devices, 32 words, 0xD0 at the base', () => {
  const { f, storage, writes } = bank({ fill: (s) => s.fill(0xff) });
  const block = 64 * FLASH_SECTOR_SIZE; // bank 1's variable store sits in blocks like this one
  const target = block + 0x1080; // 128-byte aligned, as EDK2 requires
  assert.equal(edk2BlockLocked(f, block), false);
  const words = Array.from({ length: 32 }, (_, i) => (0x0102_0304 * (i + 1)) >>> 0);
  storage.fill(0x00, target - 4, target); // neighbours that must stay as they are
  storage.fill(0x00, target + 128, target + 132);
  const sr = edk2WriteBuffer(f, target, words);
  assert.equal(sr, READY, 'ready, no error bits');
  assert.equal(f.arrayMode, true, '0x50 after success leaves the bank reading the array (QEMU)');
  send(f, 0, 0xff); // NorFlashWriteSingleBlock's exit
  words.forEach((w, i) => assert.equal(r32(f, target + 4 * i), w));
  assert.deepEqual(writes, [[target, 128]]);
  assert.equal(r32(f, target - 4), 0);
  assert.equal(r32(f, target + 128), 0);

  // before the confirm the array is untouched: a program cut short leaves no half-written data
  writes.length = 0;
  const t2 = block + 0x2000;
  send(f, t2, 0xe8);
  send(f, t2, 31);
  for (let i = 0; i < 31; i++) f.write(t2 + 4 * i, 4, 0);
  assert.equal(storage[t2], 0xff);
  f.write(t2 + 124, 4, 0);
  assert.equal(storage[t2], 0xff, 'still untouched while waiting for the confirm');
  assert.equal(r32(f, 0), READY, 'the bank shows status meanwhile');
  send(f, block, 0xd0);
  assert.deepEqual(writes, [[t2, 128]]);
  assert.equal(storage[t2 + 127], 0);
});

test('flash: buffered program takes the whole 4 KiB buffer as Linux uses it, and refuses a count beyond it', () => {
  const { f, storage, writes } = bank({ fill: (s) => s.fill(0xff) });
  const win = 3 * FLASH_SECTOR_SIZE + 0x3000;
  send(f, win, 0xe8);
  send(f, win, 1023); // 1024 bank words: the whole buffer
  // the first and last words are all ones, which programs nothing
  for (let i = 0; i < 1024; i++) f.write(win + 4 * i, 4, i === 0 || i === 1023 ? 0xffff_ffff : i);
  send(f, win, 0xd0);
  assert.equal(r32(f, win), READY);
  send(f, 0, 0xff);
  assert.equal(r32(f, win + 4), 1);
  assert.equal(r32(f, win + 4 * 1022), 1022);
  assert.equal(r32(f, win + 4 * 1023), 0xffff_ffff);
  assert.deepEqual(writes, [[win + 4, 4096 - 8]], 'the span of bytes that changed');

  writes.length = 0;
  const snapshot = storage.slice(win, win + 8192);
  send(f, win, 0xe8);
  send(f, win, 1024); // one word too many
  assert.equal(r32(f, 0), dual(0xb0), 'command sequence error: SR.4 and SR.5');
  for (let i = 0; i < 4; i++) f.write(win + 4 * i, 4, 0); // the data that follows is taken as commands: 0x00 reads the array
  assert.equal(f.arrayMode, true);
  assert.deepEqual(storage.slice(win, win + 8192), snapshot);
  assert.deepEqual(writes, []);
});

test('flash: block erase (0x20, 0xD0) sets the whole block to 0xff and reports the block', () => {
  const { f, storage, writes } = bank({ fill: (s) => s.fill(0x5a) });
  const block = 7 * FLASH_SECTOR_SIZE;
  assert.equal(edk2Erase(f, block), READY);
  assert.ok(storage.subarray(block, block + FLASH_SECTOR_SIZE).every((b) => b === 0xff));
  assert.equal(storage[block - 1], 0x5a);
  assert.equal(storage[block + FLASH_SECTOR_SIZE], 0x5a);
  assert.deepEqual(writes, [[block, FLASH_SECTOR_SIZE]]);
  assert.equal(f.arrayMode, true);
  assert.equal(r32(f, block + 0x100), 0xffff_ffff);
  // the block is the one the confirm addresses, at any offset inside it
  send(f, 9 * FLASH_SECTOR_SIZE + 0x1234, 0x20);
  send(f, 9 * FLASH_SECTOR_SIZE + 0x1234, 0xd0);
  assert.deepEqual(writes.at(-1), [9 * FLASH_SECTOR_SIZE, FLASH_SECTOR_SIZE]);
  assert.equal(storage[9 * FLASH_SECTOR_SIZE], 0xff);
  assert.equal(storage[10 * FLASH_SECTOR_SIZE], 0x5a);
});

test('flash: the status register: 0x70 reads it anywhere, error bits stay until 0x50 clears them', () => {
  const { f, storage } = bank({ fill: (s) => s.fill(0x5a) });
  send(f, 0x1000, 0x70);
  assert.equal(f.arrayMode, false);
  assert.equal(r32(f, 0x1000), READY);
  assert.equal(r32(f, 0x7_0000), READY, 'at any address');
  assert.equal(f.read(0x1000, 1), 0x80);
  assert.equal(f.read(0x1001, 1), 0x00, 'the high byte of a device\'s lane');
  assert.equal(f.read(0x1002, 2), 0x80, 'the second device');
  // an erase setup followed by anything but the confirm: a command sequence error, nothing erased
  send(f, 0, 0x20);
  send(f, 0, 0xff);
  assert.equal(r32(f, 0), dual(0xb0));
  assert.equal(storage[0], 0x5a);
  send(f, 0, 0xff);
  assert.equal(f.arrayMode, true, 'read array leaves the error bits set');
  send(f, 0, 0x70);
  assert.equal(r32(f, 0), dual(0xb0), 'still set');
  send(f, 0, 0x50);
  assert.equal(f.arrayMode, true, 'clear status returns to the array (QEMU)');
  send(f, 0, 0x70);
  assert.equal(r32(f, 0), READY, 'cleared; the ready bit stays');
});

test('flash: a read-only bank refuses program, buffered program and erase with the protected-block error bits', () => {
  const fill = (s: Uint8Array) => s.forEach((_, i) => (s[i] = i & 0xff));
  const { f, storage, writes } = bank({ readOnly: true, fill });
  const before = storage.slice(0, 2 * FLASH_SECTOR_SIZE);
  send(f, 0x10, 0x40);
  f.write(0x10, 4, 0);
  assert.equal(r32(f, 0x10), dual(0x92), 'SR.7, SR.4 program error, SR.1 block locked');
  send(f, 0, 0x50);
  assert.equal(edk2Erase(f, FLASH_SECTOR_SIZE), dual(0xa2), 'SR.7, SR.5 erase error, SR.1 block locked');
  assert.equal(edk2WriteBuffer(f, 0x80, new Array(32).fill(0)), dual(0x92));
  send(f, 0, 0x50);
  send(f, 0, 0xff);
  assert.deepEqual(storage.slice(0, 2 * FLASH_SECTOR_SIZE), before);
  assert.deepEqual(writes, []);
  assert.equal(f.read(0x10, 4), 0x1312_1110, 'the array reads as before');
});

test('flash: hostile buffered programs: data outside the buffer\'s window aborts the whole program, stale errors too', () => {
  const { f, storage, writes } = bank({ fill: (s) => s.fill(0xff) });
  const win = 2 * FLASH_SECTOR_SIZE - 4096; // the last window of block 1
  send(f, win, 0xe8);
  send(f, win, 3);
  f.write(win + 8, 4, 0); // out of order is fine
  f.write(win, 4, 0);
  f.write(win + 4096, 4, 0); // the next window, in the next block
  f.write(win + 4, 4, 0);
  send(f, win, 0xd0);
  assert.equal(r32(f, 0), dual(0x90), 'program error');
  assert.ok(storage.subarray(win, win + 8192).every((b) => b === 0xff), 'nothing programmed');
  // the error bit is still set: the next program is refused too, until 0x50
  send(f, win, 0xe8);
  send(f, win, 0);
  f.write(win, 4, 0x1234_5678);
  send(f, win, 0xd0);
  assert.equal(storage[win], 0xff);
  send(f, 0, 0x50);
  send(f, win, 0xe8);
  send(f, win, 0);
  f.write(win, 4, 0x1234_5678);
  f.write(win, 2, 0xabcd); // a second confirm-less write is a sequence error (count 0 means one word)
  assert.equal(r32(f, 0), dual(0xb0));
  assert.equal(storage[win], 0xff, 'an unconfirmed buffer is discarded');
  assert.deepEqual(writes, []);
  // a word written twice within one buffer keeps its last data
  send(f, 0, 0x50);
  send(f, win, 0xe8);
  send(f, win, 1);
  f.write(win, 4, 0x0000_00ff);
  f.write(win, 4, 0xffff_ff00);
  send(f, win, 0xd0);
  send(f, 0, 0xff);
  assert.equal(r32(f, win), 0xffff_ff00);
});

test('flash: unknown commands and lock commands never throw and leave a sane state', () => {
  const { f, storage } = bank({ fill: (s) => s.fill(0x33) });
  for (const c of [0x01, 0x02, 0x30, 0x80, 0xaa, 0xb0, 0xc0, 0xd0, 0xf0, 0x00, 0x28]) {
    send(f, 0x40, c);
    assert.equal(f.arrayMode, true, `0x${c.toString(16)} reads the array`);
    assert.equal(r32(f, 0x40), 0x3333_3333);
  }
  send(f, 0, 0x60); // EDK2's unlock: 0x60, 0xD0, then status polling
  send(f, 0, 0xd0);
  assert.equal(edk2Status(f), READY);
  send(f, 0, 0x60);
  send(f, 0, 0x77); // not a lock command
  assert.equal(r32(f, 0), dual(0xb0));
  assert.equal(storage[0], 0x33);
});

test('flash: random access sequences never throw, keep values in range and always save and restore', () => {
  let seed = 0x1234_5678;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const { f, storage, writes } = bank({ fill: (s) => s.fill(0xff) });
  const cmds = [0xff, 0x70, 0x50, 0x90, 0x98, 0x40, 0x10, 0x20, 0xd0, 0x60, 0x01, 0xe8, 0x00, 0x1f, 0x3ff, 0xaa];
  const widths = [1, 2, 4, 8];
  for (let step = 0; step < 40_000; step++) {
    const width = widths[rnd(4)];
    const where = rnd(8) === 0 ? rnd(FLASH_BANK_SIZE) : FLASH_SECTOR_SIZE - 8192 + rnd(16384);
    const offset = Math.min(where, FLASH_BANK_SIZE - width);
    if (rnd(3) === 0) {
      const v = f.read(offset, width);
      if (width === 8) assert.ok(typeof v === 'bigint' && v >= 0n && v < 1n << 64n);
      else assert.ok(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** (8 * width));
    } else {
      const c = cmds[rnd(cmds.length)];
      const v = rnd(2) ? dual(c) : rnd(2) ? c : (rnd(0x10000) << 16) | rnd(0x10000);
      f.write(offset, width, width === 8 ? (BigInt(v) << 32n) | BigInt(dual(cmds[rnd(cmds.length)])) : v);
    }
    if (step % 2000 === 0) {
      const rec = JSON.parse(JSON.stringify(f.save()));
      const g = new CfiFlash({ storage: storage.slice() });
      g.restore(rec);
      assert.deepEqual(g.save(), f.save());
    }
  }
  for (const [o, n] of writes) assert.ok(o >= 0 && n > 0 && o + n <= FLASH_BANK_SIZE);
  assert.ok(writes.length > 0, 'some programs and erases went through');
  // a pending program takes at most 1024 data words and a confirm; read array then holds
  for (let i = 0; i < 1100 && !f.arrayMode; i++) send(f, 0, 0xff);
  assert.equal(f.arrayMode, true);
  assert.equal(f.read(0x1000, 4), (storage[0x1000] | (storage[0x1001] << 8) | (storage[0x1002] << 16) | (storage[0x1003] << 24)) >>> 0);
});

test('flash: reset returns to read array with status cleared and keeps the contents', () => {
  const { f, storage } = bank({ fill: (s) => s.fill(0xff) });
  send(f, 0, 0xe8);
  send(f, 0, 3);
  f.write(0, 4, 0);
  send(f, 0, 0x20);
  send(f, 0, 0x20); // sequence error
  storage[5] = 0x42;
  f.reset();
  assert.equal(f.arrayMode, true);
  assert.equal(f.read(4, 4), 0xffff_42ff);
  send(f, 0, 0x70);
  assert.equal(r32(f, 0), READY);
  assert.deepEqual(f.save(), { version: 1, mode: 'status', status: 0x80, remaining: 0, window: -1, bufferStart: 0, buffer: [] });
});

test('flash: save and restore in the middle of a buffered program continues it exactly', () => {
  const a = bank({ fill: (s) => s.fill(0xff) });
  const target = 5 * FLASH_SECTOR_SIZE + 0x180;
  send(a.f, target, 0xe8);
  send(a.f, target, 31);
  for (let i = 0; i < 10; i++) a.f.write(target + 4 * i, 4, 0x1111_1111 * (i % 15));
  const rec = JSON.parse(JSON.stringify(a.f.save()));
  assert.equal(rec.mode, 'bufferData');
  assert.equal(rec.remaining, 22);
  assert.equal(rec.window, 5 * FLASH_SECTOR_SIZE);
  assert.equal(rec.bufferStart, 0x180);
  assert.equal(rec.buffer.length, 40);
  const b = bank({ fill: (s) => s.fill(0xff) });
  b.f.reset();
  b.f.write(0, 4, dual(0x98)); // whatever state it was in is replaced
  b.f.restore(rec);
  assert.deepEqual(b.f.save(), rec);
  for (const x of [a, b]) {
    for (let i = 10; i < 32; i++) x.f.write(target + 4 * i, 4, 0x0f0f_0f0f);
    send(x.f, 0, 0xd0);
    send(x.f, 0, 0xff);
  }
  assert.deepEqual(b.storage.subarray(target - 16, target + 144), a.storage.subarray(target - 16, target + 144));
  assert.deepEqual(b.writes, a.writes);
  assert.equal(r32(b.f, target + 4), 0x1111_1111);
  assert.equal(r32(b.f, target + 40), 0x0f0f_0f0f);
});

test('flash: restore refuses a bad record and changes nothing', () => {
  const { f } = bank();
  send(f, 0x100, 0xe8);
  send(f, 0x100, 3);
  f.write(0x100, 4, 0);
  const good = f.save();
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ ...good, version: 2 }, /version/],
    [{ ...good, mode: 'erasing' }, /mode/],
    [{ ...good, status: 0x100 }, /status/],
    [{ ...good, remaining: 1025 }, /remaining/],
    [{ ...good, mode: 'status' }, /remaining/],
    [{ ...good, window: 100 }, /window/],
    [{ ...good, window: FLASH_BANK_SIZE }, /window/],
    [{ ...good, window: '0' }, /window/],
    [{ ...good, mode: 'bufferConfirm', remaining: 0, window: -1, bufferStart: 0, buffer: [] }, /window/],
    [{ ...good, bufferStart: 4094 }, /buffer/],
    [{ ...good, buffer: [256] }, /buffer/],
    [{ ...good, buffer: new Array(4097).fill(0) }, /buffer/],
    [{ ...good, window: -1 }, /buffer/],
    [{ version: 1, mode: 'array', status: 0x80, remaining: 0, window: 0, bufferStart: 0, buffer: [] }, /window/],
  ];
  for (const [rec, why] of bad) {
    assert.throws(() => f.restore(rec), (e: unknown) => e instanceof Error && /^snapshot: cfi-flash/.test(e.message) && why.test(e.message), JSON.stringify(rec)?.slice(0, 80));
    assert.deepEqual(f.save(), good, 'unchanged');
  }
});
