// Guest console output → a host stream. Guests print a byte at a time through HTIF or the UART; one write(2)
// per byte would cost more than the guest's own instructions, so bytes are batched and flushed at a newline,
// when the batch grows, or shortly after the guest goes quiet (a prompt without a newline still shows).
// Also what the guest is told about the host terminal (TERM, rows and columns on its kernel command line).

const FLUSH_BYTES = 4096;
const FLUSH_DELAY_MS = 20;

export interface ConsoleSink {
  /** The BareMachine console callback; copies `bytes`, which may be a view of guest memory. */
  write: (bytes: Uint8Array) => void;
  flush(): void;
  /** Flushes and stops the timer so the process can exit. */
  close(): void;
}

export interface ConsoleSinkOptions {
  /**
   * Drop the guest's cursor position queries (ESC [ 6 n, ECMA-48 DSR 6), e.g. when the console is no
   * interactive terminal: busybox's line editor asks at every prompt, and a file or pipe would show the query
   * literally (a terminal seeing it while its input goes elsewhere would type the answer into the wrong place).
   */
  dropCursorQueries?: boolean;
}

export function createConsoleSink(out: NodeJS.WritableStream, opts: ConsoleSinkOptions = {}): ConsoleSink {
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

  const filter = opts.dropCursorQueries ? cursorQueryFilter() : null;
  const write = (input: Uint8Array): void => {
    const bytes = filter ? filter(input) : input;
    if (bytes.length === 0) return;
    chunks.push(Buffer.from(bytes)); // copy: the caller may reuse the memory
    pending += bytes.length;
    if (pending >= FLUSH_BYTES || bytes.includes(0x0a)) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_DELAY_MS);
  };

  return { write, flush, close: flush };
}

const CURSOR_QUERY = [0x1b, 0x5b, 0x36, 0x6e]; // ESC [ 6 n

/**
 * A filter that removes ESC [ 6 n from a byte stream however the writes split it; bytes that may begin the
 * sequence are held back until the next write shows whether they do. Returns the bytes to pass on.
 */
export function cursorQueryFilter(): (bytes: Uint8Array) => Uint8Array {
  let held = 0; // bytes of CURSOR_QUERY matched at the end of the previous writes (not passed on yet)
  return (bytes) => {
    if (held === 0 && !bytes.includes(0x1b)) return bytes;
    const out: number[] = [];
    for (const b of bytes) {
      if (b === CURSOR_QUERY[held]) {
        held++;
        if (held === CURSOR_QUERY.length) held = 0; // a whole query: dropped
        continue;
      }
      for (let i = 0; i < held; i++) out.push(CURSOR_QUERY[i]);
      held = 0;
      if (b === CURSOR_QUERY[0]) held = 1;
      else out.push(b);
    }
    return Uint8Array.from(out);
  };
}

/** The host terminal as `tvisor run` sees it. */
export interface HostTerminal {
  /** stdout is a terminal (its size is then known). */
  isTTY: boolean;
  rows?: number;
  columns?: number;
  /** $TERM. */
  term?: string;
}

/**
 * Kernel command line parameters telling the guest about the host's terminal, for those `cmdline` does not
 * set already: TERM=<$TERM> (Linux hands unknown name=value parameters to init as its environment) and
 * tvisor.rows=/tvisor.cols= (the default guest's init runs stty with them) when stdout is a terminal, TERM=dumb
 * when it is not. Returns the parameters, each with a leading space ('' when there are none to add).
 */
export function terminalParams(t: HostTerminal, cmdline: string): string {
  const has = (name: string) => new RegExp(`(^|\\s)${name.replace('.', '\\.')}=`).test(cmdline);
  let params = '';
  const term = t.isTTY ? t.term : 'dumb';
  // a TERM the command line cannot carry (spaces, quotes) is left out: the guest then uses its default
  if (term && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(term) && !has('TERM')) params += ` TERM=${term}`;
  if (t.isTTY && t.rows && t.columns && !has('tvisor.rows') && !has('tvisor.cols')) {
    params += ` tvisor.rows=${t.rows} tvisor.cols=${t.columns}`;
  }
  return params;
}
