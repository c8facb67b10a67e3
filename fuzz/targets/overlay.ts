// Fuzz target: the copy-on-write overlay file format (src/host/node/block-file.ts). The input is an overlay
// file: its first bytes are laid over the 4096-byte header (the rest of the header stays zero), and what
// follows is the allocation bitmap and data. It is opened over a base image of the size its header names (or
// 64 KiB), read whole, written at input-chosen places, flushed, closed, opened again and read again. Opening
// must succeed or throw a DiskError; I/O on an open overlay must succeed or throw a BlockIoError.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlockIoError, type BlockBackend } from '../../src/core/virtio/blk/backend.js';
import { DiskError, openDiskImage } from '../../src/host/node/block-file.js';
import { Bytes, expectOnly } from '../lib/bytes.js';

const HEADER = 4096;
const PREFIX = 80;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-fuzz-overlay-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const basePath = path.join(dir, 'base.img');
const overlayPath = path.join(dir, 'overlay.img');

function baseSize(header: Uint8Array): number {
  if (header.length < 32) return 64 * 1024;
  const size = Number(new DataView(header.buffer, header.byteOffset + 24, 8).getBigUint64(0, true));
  return size > 0 && size <= 1 << 20 && size % 512 === 0 ? size : 64 * 1024;
}

function open(): BlockBackend | null {
  try {
    return openDiskImage({ path: basePath, overlay: overlayPath });
  } catch (e) {
    expectOnly(e, DiskError);
    return null;
  }
}

function io(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    expectOnly(e, BlockIoError);
  }
}

function exercise(disk: BlockBackend, b: Bytes): void {
  io(() => disk.read(0, new Uint8Array(disk.size)));
  for (let i = 0; i < 4 && b.left > 0; i++) {
    const offset = (b.u16() * 512) % disk.size;
    const length = Math.min(disk.size - offset, b.u16() % 9000);
    if (b.bool()) io(() => disk.write(offset, new Uint8Array(length).fill(0xa5)));
    else io(() => disk.writeZeroes(offset, length));
  }
  io(() => disk.flush());
}

export function fuzz(data: Uint8Array): void {
  const b = new Bytes(data);
  const head = b.bytes(PREFIX);
  const file = new Uint8Array(HEADER + Math.max(0, data.length - PREFIX));
  file.set(head);
  file.set(data.subarray(PREFIX), HEADER);
  fs.writeFileSync(basePath, new Uint8Array(baseSize(head)).fill(0x11));
  fs.writeFileSync(overlayPath, data.length === 0 ? new Uint8Array(0) : file);
  const ops = new Bytes(data.subarray(Math.max(0, data.length - 24)));
  for (let round = 0; round < 2; round++) {
    const disk = open();
    if (!disk) return;
    try {
      exercise(disk, ops);
    } finally {
      try {
        disk.close();
      } catch (e) {
        expectOnly(e, BlockIoError);
      }
    }
  }
}
