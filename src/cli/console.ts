// Guest console output → a host stream. Guests print a byte at a time through HTIF or the UART; one write(2)
// per byte would cost more than the guest's own instructions, so bytes are batched and flushed at a newline,
// when the batch grows, or shortly after the guest goes quiet (a prompt without a newline still shows).

const FLUSH_BYTES = 4096;
const FLUSH_DELAY_MS = 20;

export interface ConsoleSink {
  /** The BareMachine console callback; copies `bytes`, which may be a view of guest memory. */
  write: (bytes: Uint8Array) => void;
  flush(): void;
  /** Flushes and stops the timer so the process can exit. */
  close(): void;
}

export function createConsoleSink(out: NodeJS.WritableStream): ConsoleSink {
  let chunks: Buffer[] = [];
  let pending = 0;
  let timer: NodeJS.Timeout | undefined;
  let broken = false;

  // A closed reader (`tvisor bare x | head -1`) is not our failure: drop output and let the program finish.
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') broken = true;
    else throw e;
  });

  const flush = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending === 0) return;
    const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, pending);
    chunks = [];
    pending = 0;
    if (!broken) out.write(data);
  };

  const write = (bytes: Uint8Array): void => {
    if (bytes.length === 0) return;
    chunks.push(Buffer.from(bytes)); // copy: the caller may reuse the memory
    pending += bytes.length;
    if (pending >= FLUSH_BYTES || bytes.includes(0x0a)) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_DELAY_MS);
  };

  return { write, flush, close: flush };
}
