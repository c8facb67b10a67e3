// HTTP(S) downloads with the runtime's fetch: small files into memory, large ones streamed to a temp file
// while hashing, with progress and an inactivity timeout. Every failure becomes one ImageError line.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ImageError } from '../errors.js';
import { createProgress, type ProgressOptions } from './progress.js';

export class DownloadError extends ImageError {
  override name = 'DownloadError';
  constructor(
    message: string,
    /** HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Milliseconds without any data before a download is abandoned. */
export const STALL_TIMEOUT_MS = 60_000;

function describeFetchError(e: unknown): string {
  if (e instanceof Error && e.name === 'AbortError') return 'no data received for 60 s';
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code && cause.message && !cause.message.includes(cause.code)) return `${cause.code}: ${cause.message.split('\n')[0]}`;
  if (cause?.message) return cause.message.split('\n')[0];
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

async function request(url: string, controller: AbortController): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
  } catch (e) {
    throw new DownloadError(`cannot download ${url}: ${describeFetchError(e)}`);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new DownloadError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`.trimEnd(), response.status);
  }
  return response;
}

/** Streams a response body, aborting when no data arrives for STALL_TIMEOUT_MS. */
async function* bodyChunks(url: string, response: Response, controller: AbortController, stallMs: number): AsyncGenerator<Uint8Array> {
  if (!response.body) return;
  const reader = response.body.getReader();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), stallMs);
  };
  try {
    for (;;) {
      arm();
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw new DownloadError(`download of ${url} failed: ${describeFetchError(e)}`);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

/** Fetches a small file (an index) into memory. */
export async function fetchBytes(url: string, opts: { stallMs?: number } = {}): Promise<Uint8Array> {
  const controller = new AbortController();
  const response = await request(url, controller);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of bodyChunks(url, response, controller, opts.stallMs ?? STALL_TIMEOUT_MS)) {
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

export interface DownloadResult {
  sha256: string;
  size: number;
}

/**
 * Downloads `url` to the file `dest` (which should be a temp name: it is removed again on failure),
 * returning the SHA-256 and size. Shows progress labelled `label`. Stops early with an error when the body
 * exceeds `expectedSize`.
 */
export async function downloadToFile(
  url: string,
  dest: string,
  opts: { label: string; expectedSize?: number; log: (line: string) => void; tty?: ProgressOptions['tty']; stallMs?: number },
): Promise<DownloadResult> {
  const controller = new AbortController();
  const hash = createHash('sha256');
  let size = 0;
  const response = await request(url, controller);
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = opts.expectedSize ?? (Number.isFinite(length) ? length : undefined);
  const progress = createProgress({ label: opts.label, total, log: opts.log, tty: opts.tty });
  const out = createWriteStream(dest, { flags: 'wx' });
  const outDone = new Promise<void>((resolve, reject) => {
    // 'close' comes after 'finish' (the file descriptor is closed) and also after destroy().
    out.on('close', resolve);
    out.on('error', reject);
  });
  outDone.catch(() => {}); // observed below; this only keeps an early error from counting as unhandled
  try {
    for await (const chunk of bodyChunks(url, response, controller, opts.stallMs ?? STALL_TIMEOUT_MS)) {
      hash.update(chunk);
      size += chunk.length;
      if (opts.expectedSize !== undefined && size > opts.expectedSize) {
        throw new DownloadError(`${url}: the server sent more than the ${opts.expectedSize} bytes the index lists`);
      }
      if (!out.write(chunk)) await once(out, 'drain'); // rejects if the stream fails meanwhile
      progress.update(size);
    }
    out.end();
    await outDone;
  } catch (e) {
    progress.fail();
    controller.abort();
    out.destroy();
    await outDone.catch(() => {});
    await rm(dest, { force: true });
    if (e instanceof ImageError) throw e;
    const code = (e as NodeJS.ErrnoException)?.code;
    throw new DownloadError(`cannot write ${dest}: ${code ?? (e instanceof Error ? e.message : String(e))}`);
  }
  progress.done(size);
  return { sha256: hash.digest('hex'), size };
}
