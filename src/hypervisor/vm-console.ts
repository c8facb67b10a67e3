// A daemon VM's console as the manager keeps it: the clients attached (WebSockets, log followers), the last
// 64 KiB of output for clients that attach later, and console input with flow control towards the VM thread.
// What a flood drops on the way is counted for the VM's stats. Survives the VM's stops and starts.
import type { VmState } from './model.js';

/** A client attached to a VM's console: its output, and the VM's state changes (to say "stopped"). */
export interface ConsoleSink {
  data(bytes: Uint8Array): void;
  /** Output lost to a flood before it reached the manager (the VM thread kept only the newest). */
  skipped?(bytes: number): void;
  state?(state: VmState, reason?: string): void;
  /** The VM is gone (deleted): the client should be disconnected, telling it `reason`. */
  closed?(reason: string): void;
}

const CONSOLE_BACKLOG = 64 * 1024;
/**
 * Console input in flight to a VM thread; more is dropped. The UART holds 64 KiB more on its line (a paste
 * waits there while the guest reads), so a VM that is paused or does not read costs at most these two.
 */
export const CONSOLE_INPUT_IN_FLIGHT = 64 * 1024;
/** How long a client whose input was dropped is held back before it may send more. */
const INPUT_DROP_PAUSE_MS = 20;

export class VmConsole {
  readonly sinks = new Set<ConsoleSink>();
  /** The last 64 KiB of console output, for consoles that attach later. */
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  /** Console input sent to the VM thread and not yet acknowledged ('input-ack'). */
  private inFlight = 0;
  /** Per input message in flight, oldest first: its size and whom to tell once the VM took it. */
  private readonly waiting: { bytes: number; done: () => void }[] = [];
  /** Output and input dropped since the VM started (flood bounds), for its stats. */
  droppedOutput = 0;
  droppedInput = 0;

  /** A new run of the VM (a start): the old output and counts go, input waiting on the old thread is let go. */
  restart(): void {
    this.backlog = [];
    this.backlogBytes = 0;
    this.droppedOutput = 0;
    this.droppedInput = 0;
    this.releaseInput();
  }

  /** Attaches a client: it gets the recent output first, then everything the guest writes. */
  attach(sink: ConsoleSink): () => void {
    for (const b of this.backlog) sink.data(b);
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /**
   * Console input for the VM, with flow control: `done` runs once the VM has taken it and its UART has room
   * again (the client should send nothing more until then; a paused VM holds it back for good). Returns false
   * when the input is dropped: the VM has no thread (`send` is null), or CONSOLE_INPUT_IN_FLIGHT is already on
   * its way (several clients at once); `done` then runs after INPUT_DROP_PAUSE_MS, so a client pouring input
   * into a stopped VM is slowed rather than served at full speed.
   */
  input(send: ((bytes: Uint8Array) => void) | null, bytes: Uint8Array, done: () => void): boolean {
    if (!send || this.inFlight + bytes.length > CONSOLE_INPUT_IN_FLIGHT) {
      this.droppedInput += bytes.length;
      setTimeout(done, INPUT_DROP_PAUSE_MS);
      return false;
    }
    this.inFlight += bytes.length;
    this.waiting.push({ bytes: bytes.length, done });
    send(bytes);
    return true;
  }

  /** The VM thread took the oldest input message: `bytes` of it, `dropped` of which did not fit the UART. */
  inputTaken(bytes: number, dropped: number): void {
    const w = this.waiting.shift();
    this.inFlight = Math.max(0, this.inFlight - bytes);
    this.droppedInput += dropped;
    w?.done();
  }

  /** The VM thread is gone or new: input waiting on the old one is let go (its clients may send again). */
  releaseInput(): void {
    this.inFlight = 0;
    for (const w of this.waiting.splice(0)) w.done();
  }

  /** A batch of output (after `dropped` bytes lost to a flood): kept in the backlog, given to every client. */
  output(bytes: Uint8Array, dropped = 0): void {
    this.droppedOutput += dropped;
    this.backlog.push(bytes);
    this.backlogBytes += bytes.length;
    while (this.backlogBytes > CONSOLE_BACKLOG) {
      const over = this.backlogBytes - CONSOLE_BACKLOG;
      const head = this.backlog[0];
      if (head.length <= over) this.backlog.shift();
      else this.backlog[0] = head.subarray(over);
      this.backlogBytes -= Math.min(head.length, over);
    }
    for (const c of this.sinks) {
      if (dropped) c.skipped?.(dropped);
      c.data(bytes);
    }
  }

  state(state: VmState, reason?: string): void {
    for (const c of this.sinks) c.state?.(state, reason);
  }

  /** The VM was deleted: every client is told and let go. */
  close(reason: string): void {
    for (const c of this.sinks) c.closed?.(reason);
    this.sinks.clear();
  }
}
