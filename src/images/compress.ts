// Decompression for the formats Debian uses: xz (through xz-decompress, xz-embedded compiled to WebAssembly,
// so no native code) and gzip (the web-standard DecompressionStream). Works on web streams and async
// iterables of byte chunks; no Node APIs.
import { ImageError } from './errors.js';
import xzDecompressPackage from 'xz-decompress';

const { XzReadableStream } = xzDecompressPackage;

export class DecompressError extends ImageError {
  override name = 'DecompressError';
}

export type Compression = 'xz' | 'gzip' | 'zstd' | 'bzip2' | 'none';

/** Identifies the compression of a file from its first bytes. */
export function detectCompression(head: Uint8Array): Compression {
  const starts = (...magic: number[]): boolean => magic.every((b, i) => head[i] === b);
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  return 'none';
}

/** A web ReadableStream over an async iterable (ReadableStream.from is not in every runtime yet). */
export function toReadableStream(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await it.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/** Iterates a web ReadableStream's chunks, releasing it when the consumer stops early. */
export async function* iterateStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

async function* singleChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function* rethrowAs(source: AsyncIterable<Uint8Array>, format: string): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (e) {
    if (e instanceof DecompressError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new DecompressError(`${format}: corrupt or truncated data (${message})`);
  }
}

/** Decompresses a stream of chunks in the given format ('none' passes it through). */
export function decompressStream(source: AsyncIterable<Uint8Array>, format: Compression): AsyncIterable<Uint8Array> {
  switch (format) {
    case 'none':
      return source;
    case 'xz':
      return rethrowAs(iterateStream(new XzReadableStream(toReadableStream(source))), 'xz');
    case 'gzip':
      return rethrowAs(
        iterateStream(
          toReadableStream(source).pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>),
        ),
        'gzip',
      );
    default:
      throw new DecompressError(`${format} compression is not supported`);
  }
}

/** Collects an async iterable of chunks into one array. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of source) {
    chunks.push(c);
    total += c.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Decompresses a whole xz file held in memory. */
export async function xzDecompress(bytes: Uint8Array): Promise<Uint8Array> {
  if (detectCompression(bytes) !== 'xz') throw new DecompressError('xz: not xz data (bad magic)');
  return collect(decompressStream(singleChunk(bytes), 'xz'));
}

/** Decompresses data held in memory whatever its (detected) format. */
export async function decompressAuto(bytes: Uint8Array): Promise<Uint8Array> {
  const format = detectCompression(bytes);
  if (format === 'none') return bytes;
  return collect(decompressStream(singleChunk(bytes), format));
}
