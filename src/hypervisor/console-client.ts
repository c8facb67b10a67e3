// One console client's outgoing queue: bounded in bytes and in messages, coalesced into few frames, and paced
// by the transport's own back-pressure (a frame's send callback; the bytes it still buffers). A client that
// cannot keep up skips output and is later told how much ({"event":"skipped","bytes":N}); one that makes no
// progress at all for CONSOLE_CLIENT_STUCK_MS while output waits is dropped. Never the daemon.
import type { VmState } from './model.js';

/** Output queued for a client and not yet handed to its socket. */
export const CONSOLE_CLIENT_QUEUE_BYTES = 128 * 1024;
/** Messages (output chunks and events) queued for a client. */
export const CONSOLE_CLIENT_QUEUE_MESSAGES = 256;
/** Output coalesced into one frame, at most. */
export const CONSOLE_CLIENT_FRAME_BYTES = 16 * 1024;
/** Frames handed to the socket whose write has not completed. */
export const CONSOLE_CLIENT_IN_FLIGHT = 4;
/** A client whose socket has taken nothing for this long while output waits is closed. */
export const CONSOLE_CLIENT_STUCK_MS = 30_000;
/** Chunks smaller than this are merged into the queue's last one, so a trickle of bytes is not a message each. */
const MERGE_BYTES = 4096;

export interface ConsoleTransport {
  /** Sends one message (binary, or a text event); `done` once the socket took it (or failed). */
  send(data: Uint8Array | string, done: (err?: Error) => void): void;
  /** Bytes the transport buffers unsent, its own frames included (ws.bufferedAmount). */
  buffered(): number;
  /** Drops the client: it is stuck. */
  drop(reason: string): void;
  nowMs(): number;
}

export class ConsoleClientQueue {
  private queue: (Uint8Array | string)[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  /** Output skipped since the client last got some. */
  private skippedBytes = 0;
  /** When the socket last completed a write, or began to be waited on. */
  private progressMs: number;
  private closed = false;
  /** Totals, for tests and logs. */
  readonly stats = { sentBytes: 0, sentFrames: 0, skippedBytes: 0 };

  constructor(private readonly t: ConsoleTransport) {
    this.progressMs = t.nowMs();
  }

  /** Console output for the client. */
  data(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    if (this.queuedBytes + bytes.length > CONSOLE_CLIENT_QUEUE_BYTES || this.queue.length >= CONSOLE_CLIENT_QUEUE_MESSAGES - 1) {
      this.skipped(bytes.length);
      this.pump();
      return;
    }
    this.flushSkipped();
    const last = this.queue.at(-1);
    if (last instanceof Uint8Array && last.length + bytes.length <= MERGE_BYTES) {
      const merged = new Uint8Array(last.length + bytes.length);
      merged.set(last, 0);
      merged.set(bytes, last.length);
      this.queue[this.queue.length - 1] = merged;
    } else this.queue.push(bytes); // shared with the other clients: never written to
    this.queuedBytes += bytes.length;
    this.pump();
  }

  /** Output lost before it reached this queue (the VM thread's flood bound), or that did not fit in it. */
  skipped(bytes: number): void {
    this.skippedBytes += bytes;
    this.stats.skippedBytes += bytes;
    this.checkStuck();
  }

  /** A text event ({"event":"state",…}, or any record a stream sends); one that does not fit means the client is stuck: it is dropped. */
  event(e: object): void {
    if (this.closed) return;
    if (this.queue.length >= CONSOLE_CLIENT_QUEUE_MESSAGES) {
      this.close('its console queue is full');
      return;
    }
    this.flushSkipped();
    this.queue.push(JSON.stringify(e));
    this.pump();
  }

  state(state: VmState, reason?: string): void {
    this.event(reason === undefined ? { event: 'state', state } : { event: 'state', state, reason });
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    if (reason) this.t.drop(reason);
  }

  /** Output queued, not yet handed to the socket. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  private flushSkipped(): void {
    if (this.skippedBytes === 0) return;
    this.queue.push(JSON.stringify({ event: 'skipped', bytes: this.skippedBytes }));
    this.skippedBytes = 0;
  }

  /** Hands frames to the socket while fewer than IN_FLIGHT are unwritten and it buffers little. */
  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.inFlight < CONSOLE_CLIENT_IN_FLIGHT &&
      this.t.buffered() < CONSOLE_CLIENT_IN_FLIGHT * CONSOLE_CLIENT_FRAME_BYTES) {
      const frame = this.nextFrame();
      if (this.inFlight === 0) this.progressMs = this.t.nowMs();
      this.inFlight++;
      if (typeof frame !== 'string') {
        this.stats.sentBytes += frame.length;
        this.stats.sentFrames++;
      }
      this.t.send(frame, (err) => {
        this.inFlight--;
        this.progressMs = this.t.nowMs();
        if (err) this.close();
        else this.pump();
      });
    }
  }

  /** The queue's head: a text event alone, or consecutive output chunks joined up to FRAME_BYTES. */
  private nextFrame(): Uint8Array | string {
    const head = this.queue[0];
    if (typeof head === 'string') {
      this.queue.shift();
      return head;
    }
    let n = 0;
    let k = 0;
    while (k < this.queue.length) {
      const c = this.queue[k];
      if (typeof c === 'string' || (k > 0 && n + c.length > CONSOLE_CLIENT_FRAME_BYTES)) break;
      n += c.length;
      k++;
    }
    const parts = this.queue.splice(0, k) as Uint8Array[];
    this.queuedBytes -= n;
    if (parts.length === 1) return parts[0];
    const frame = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      frame.set(p, o);
      o += p.length;
    }
    return frame;
  }

  /** Output is being skipped: a client whose socket took nothing for STUCK_MS is dropped. */
  private checkStuck(): void {
    if (this.inFlight > 0 && this.t.nowMs() - this.progressMs > CONSOLE_CLIENT_STUCK_MS) {
      this.close(`its socket took nothing for ${CONSOLE_CLIENT_STUCK_MS / 1000} s`);
    }
  }
}
