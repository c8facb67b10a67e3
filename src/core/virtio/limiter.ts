// The rate limiter a virtio device consults before it does I/O (a virtio-blk request, a virtio-net frame).
// The core needs only this much; the hypervisor's token buckets (src/hypervisor/rate-limiter.ts) implement it.

/**
 * Decides whether one operation of `bytes` may happen now. Times are milliseconds on the VM's monotonic clock
 * (VirtioContext.nowMs), the same timeline for every call.
 */
export interface IoLimiter {
  /** Takes one operation of `bytes` if the limits allow it at `nowMs`; false = refused and nothing taken. */
  consume(bytes: number, nowMs: number): boolean;
  /** Milliseconds (fractional) until consume(bytes) would succeed; 0 = now. */
  waitMs(bytes: number, nowMs: number): number;
  /** The tokens in its buckets at `nowMs`, for a saved state (its limits are the machine description's). */
  save?(nowMs: number): LimiterState;
  /** Puts back saved tokens (at most what each bucket holds), counting refills from `nowMs`. */
  restore?(s: LimiterState, nowMs: number): void;
}

/** The tokens of a limiter's buckets (null: no such bucket). */
export interface LimiterState {
  bandwidth: { budget: number; burst: number } | null;
  ops: { budget: number; burst: number } | null;
}

/**
 * The shortest wait a throttled queue arms its timer for: a refused request is never retried in a busy loop,
 * even when rounding makes waitMs say (almost) 0.
 */
export const MIN_THROTTLE_MS = 0.5;
