// Node file helpers for the image cache: random access to a file as a ByteSource, hashing, and writes that
// become visible only when complete (temp file in the same directory, then rename).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ByteSource } from '../deb.js';

export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

/** Opens a file for random access and streaming. */
export async function openFileSource(path: string): Promise<FileSource> {
  const handle = await open(path, 'r');
  const size = (await handle.stat()).size;
  return {
    size,
    async read(offset, length) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
    },
    async *stream(offset, length) {
      if (length <= 0) return;
      for await (const chunk of createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: 1 << 20 })) {
        yield chunk as Buffer;
      }
    },
    close: () => handle.close(),
  };
}

/** SHA-256 (hex) and size of a file. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A temp name next to `path`, unique to this process and call. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes a file so that readers see either the old contents or the complete new contents. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempNameFor(path);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}
