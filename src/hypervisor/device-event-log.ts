// The per-VM rate limit on device-event log lines (a guest can raise device errors in a loop): at most
// DEVICE_EVENTS_PER_WINDOW lines a window; the rest are counted and summed up in one line.
const DEVICE_EVENTS_PER_WINDOW = 10;
const DEVICE_EVENT_WINDOW_MS = 10_000;

export class DeviceEventLog {
  private windowMs = -Infinity;
  private logged = 0;
  private suppressed = 0;

  /** `prefix` starts every line (e.g. "tvisor: VM 0123abcd (web)"). */
  constructor(private readonly log: (line: string) => void, private readonly prefix: () => string) {}

  /** Logs `what` unless this window's lines are used up. */
  note(nowMs: number, what: string): void {
    if (nowMs - this.windowMs >= DEVICE_EVENT_WINDOW_MS) {
      this.flush();
      this.windowMs = nowMs;
      this.logged = 0;
    }
    if (this.logged < DEVICE_EVENTS_PER_WINDOW) {
      this.logged++;
      this.log(`${this.prefix()}: ${what}`);
    } else this.suppressed++;
  }

  /** Says how many events were not logged (at a window's end, and when the VM ends). */
  flush(): void {
    if (this.suppressed === 0) return;
    this.log(`${this.prefix()}: … ${this.suppressed} more device events suppressed`);
    this.suppressed = 0;
  }
}
