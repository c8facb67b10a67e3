// Download progress: one line rewritten in place on a terminal ("label  12.3/112.6 MB  8.1 MB/s"), plain
// lines every few seconds otherwise (logs, CI), and always a final line with the size and time taken.

export interface Progress {
  /** Called with the running byte count. */
  update(bytes: number): void;
  /** The download finished (prints the final line). */
  done(bytes: number): void;
  /** The download failed (ends the updating line so that the error starts on its own line). */
  fail(): void;
}

export interface ProgressOptions {
  label: string;
  total?: number;
  /** Where lines go when not drawing on a terminal. */
  log: (line: string) => void;
  /** A terminal to draw an updating line on (default: stderr when it is a TTY). */
  tty?: { isTTY?: boolean; columns?: number; write(text: string): unknown };
  /** Milliseconds between plain progress lines (default 5000). */
  interval?: number;
  now?: () => number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function describe(label: string, bytes: number, total: number | undefined, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? `${formatBytes(Math.round((bytes * 1000) / elapsedMs))}/s` : '';
  if (total && total > 0) {
    const pct = Math.min(100, Math.floor((bytes * 100) / total));
    return `${label}: ${pct}% (${formatBytes(bytes)} of ${formatBytes(total)}${rate ? `, ${rate}` : ''})`;
  }
  return `${label}: ${formatBytes(bytes)}${rate ? ` (${rate})` : ''}`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? (() => Date.now());
  const tty = opts.tty ?? (process.stderr.isTTY ? process.stderr : undefined);
  const interactive = Boolean(tty?.isTTY);
  const interval = opts.interval ?? 5000;
  const started = now();
  let lastDraw = started;
  let drawn = false;
  const draw = (text: string): void => {
    const width = Math.max(20, (tty?.columns || 80) - 1);
    tty!.write(`\r\x1b[K${text.length > width ? text.slice(0, width) : text}`);
    drawn = true;
  };
  return {
    update(bytes) {
      const t = now();
      if (interactive) {
        if (t - lastDraw < 100) return;
        lastDraw = t;
        draw(describe(opts.label, bytes, opts.total, t - started));
      } else if (t - lastDraw >= interval) {
        opts.log(describe(opts.label, bytes, opts.total, t - started));
        lastDraw = t;
      }
    },
    done(bytes) {
      const seconds = (now() - started) / 1000;
      const line = `${opts.label}: ${formatBytes(bytes)} in ${seconds.toFixed(1)} s`;
      if (interactive && drawn) tty!.write('\r\x1b[K');
      opts.log(line);
    },
    fail() {
      if (interactive && drawn) tty!.write('\n');
    },
  };
}
