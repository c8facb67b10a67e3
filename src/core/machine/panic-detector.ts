// Spots the line Linux prints when a kernel panic is complete, "---[ end Kernel panic - not syncing: <reason>
// ]---" (kernel/panic.c), in a guest's console output, so that the VM can end as crashed instead of spinning
// in panic()'s delay loop for ever. One comparison per byte (a Knuth-Morris-Pratt matcher); nothing is kept
// until the marker has matched.

const MARKER = '---[ end Kernel panic - not syncing: ';
const TRAILER = ' ]---';
/** A reason longer than this is cut (Linux formats it into a 1 KiB buffer; a line on a console is shorter). */
const MAX_REASON = 240;

/** KMP failure function: for each prefix length, the length of its longest proper border. */
function borders(pattern: string): readonly number[] {
  const b = [0, 0];
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern.charCodeAt(i) !== pattern.charCodeAt(k)) k = b[k];
    if (pattern.charCodeAt(i) === pattern.charCodeAt(k)) k++;
    b.push(k);
  }
  return Object.freeze(b);
}

const MARKER_CODES: readonly number[] = Object.freeze(Array.from(MARKER, (c) => c.charCodeAt(0)));
const MARKER_BORDERS = borders(MARKER);

export class PanicDetector {
  /** Bytes of the marker matched so far. */
  private matched = 0;
  /** The reason's bytes once the marker has matched, until the end of the line. */
  private reason: number[] | null = null;

  /** Feeds console bytes; returns the panic's reason once its end line is complete, otherwise null. */
  scan(bytes: Uint8Array): string | null {
    for (let i = 0; i < bytes.length; i++) {
      const r = this.scanByte(bytes[i]);
      if (r !== null) return r;
    }
    return null;
  }

  /** Feeds one console byte; returns the reason when it completes the end-of-panic line. */
  scanByte(b: number): string | null {
    if (this.reason !== null) return this.collect(b);
    let k = this.matched;
    while (k > 0 && b !== MARKER_CODES[k]) k = MARKER_BORDERS[k];
    if (b === MARKER_CODES[k]) k++;
    if (k === MARKER_CODES.length) {
      this.reason = [];
      k = 0;
    }
    this.matched = k;
    return null;
  }

  private collect(b: number): string | null {
    const reason = this.reason!;
    if (b !== 0x0a && b !== 0x0d && reason.length < MAX_REASON) {
      reason.push(b);
      return null;
    }
    this.reason = null;
    let text = new TextDecoder().decode(Uint8Array.from(reason));
    if (text.endsWith(TRAILER)) text = text.slice(0, -TRAILER.length);
    return text.trim() || 'no reason given';
  }
}
