// Token-bucket rate limiting for a VM's block and network I/O, with Firecracker's semantics (bandwidth and
// ops buckets, linear refill, a one-time burst); pure bookkeeping: the caller passes the time in ms.
//
// Choices worth knowing:
// - A bucket with size 0 or refillTimeMs 0 does not limit (as in Firecracker).
// - The one-time burst is spent before the regular budget and never refills; a request is taken atomically
//   from burst + budget, or not at all (Firecracker spends the burst even when the request then fails).
// - A request larger than the bucket can never find that many tokens. It is let through once the bucket is
//   full and drives the balance negative, so the device pays for it by waiting (size + debt) / rate before
//   the next request: the long-run rate still holds, and nothing deadlocks. timeUntil() says Infinity for
//   such a request (the tokens never exist at once); timeUntilAllowed() gives the real wait.
// - update() keeps the current balance (clamped to the new size) rather than resetting the bucket to full,
//   so reconfiguring a throttled device cannot be used to get a free burst.
import type { IoLimiter, LimiterState } from '../core/virtio/limiter.js';

export interface TokenBucketConfig {
  /** Tokens (bytes or ops) the bucket holds when full; refilled linearly over refillTimeMs. */
  size: number;
  refillTimeMs: number;
  /** Extra tokens available once, spent first; they do not refill. */
  oneTimeBurst?: number;
}

/** Comparisons forgive float rounding from fractional refills (1e-9 of a token per token of size). */
const EPS = 1e-9;

export class TokenBucket {
  private size = 0;
  private refillTimeMs = 0;
  /** Regular tokens; negative after a request larger than the bucket. */
  private budget = 0;
  private burst = 0;
  private lastMs: number;

  constructor(cfg: TokenBucketConfig, nowMs: number) {
    this.lastMs = nowMs;
    this.configure(cfg);
    this.budget = this.size;
  }

  /** False when the bucket does not limit (size or refill time 0). */
  get limited(): boolean {
    return this.size > 0 && this.refillTimeMs > 0;
  }

  /** Regular tokens plus what is left of the one-time burst, at nowMs. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.budget + this.burst;
  }

  /** Takes `tokens` if the bucket allows it now (see the header for requests larger than the bucket). */
  consume(tokens: number, nowMs: number): boolean {
    if (!this.allows(tokens, nowMs)) return false;
    this.take(tokens);
    return true;
  }

  /** True if consume(tokens) would succeed now; takes nothing. */
  allows(tokens: number, nowMs: number): boolean {
    if (!this.limited || tokens <= 0) return true;
    this.refill(nowMs);
    const slack = EPS * Math.max(1, this.size);
    return this.budget + this.burst >= tokens - slack || this.budget >= this.size - slack;
  }

  /** Spends tokens unconditionally (after allows() said yes). */
  take(tokens: number): void {
    if (!this.limited || tokens <= 0) return;
    const fromBurst = Math.min(this.burst, tokens);
    this.burst -= fromBurst;
    this.budget -= tokens - fromBurst;
  }

  /** Ms until `tokens` are in the bucket at once; Infinity if tokens exceed what it can ever hold. */
  timeUntil(tokens: number, nowMs: number): number {
    if (!this.limited) return 0;
    this.refill(nowMs);
    if (tokens - this.burst > this.size * (1 + EPS)) return Infinity;
    return this.msToReach(tokens - this.burst);
  }

  /** Ms until consume(tokens) succeeds: like timeUntil, but a request larger than the bucket waits for a full
   *  bucket. Fractional; round up when arming a timer. */
  timeUntilAllowed(tokens: number, nowMs: number): number {
    if (!this.limited || tokens <= 0) return 0;
    this.refill(nowMs);
    return this.msToReach(Math.min(tokens - this.burst, this.size));
  }

  /** The tokens now: regular and one-time burst. */
  save(nowMs: number): { budget: number; burst: number } {
    this.refill(nowMs);
    return { budget: this.budget, burst: this.burst };
  }

  /** Puts back saved tokens (clamped to what the bucket holds), refilling from nowMs on. */
  restore(s: { budget: number; burst: number }, nowMs: number): void {
    this.budget = Math.max(0, Math.min(s.budget, this.size));
    this.burst = Math.max(0, s.burst);
    this.lastMs = nowMs;
  }

  /** Applies a new configuration from nowMs on; the balance is kept but not above the new size. A new
   *  oneTimeBurst replaces what is left of the old one; an absent one leaves it as it is. */
  update(cfg: TokenBucketConfig, nowMs: number): void {
    this.refill(nowMs);
    const wasLimited = this.limited;
    this.configure(cfg);
    if (!wasLimited) this.budget = this.size;
    else this.budget = Math.min(this.budget, this.size);
  }

  private configure(cfg: TokenBucketConfig): void {
    const ok = (x: number) => Number.isFinite(x) && x >= 0;
    if (!ok(cfg.size) || !ok(cfg.refillTimeMs)) {
      throw new Error(
        `token bucket: size and refillTimeMs must be finite numbers >= 0 (0 = unlimited), got ${cfg.size} and ${cfg.refillTimeMs}`,
      );
    }
    if (cfg.oneTimeBurst !== undefined && !(cfg.oneTimeBurst >= 0)) {
      throw new Error(`token bucket: oneTimeBurst must be >= 0, got ${cfg.oneTimeBurst}`);
    }
    this.size = cfg.size;
    this.refillTimeMs = cfg.refillTimeMs;
    if (cfg.oneTimeBurst !== undefined) this.burst = cfg.oneTimeBurst;
  }

  private msToReach(target: number): number {
    const missing = target - this.budget;
    if (missing <= EPS * Math.max(1, this.size)) return 0;
    return (missing * this.refillTimeMs) / this.size;
  }

  private refill(nowMs: number): void {
    const elapsed = nowMs - this.lastMs;
    // A clock that steps back refills nothing rather than draining the bucket.
    if (elapsed <= 0) return;
    this.lastMs = nowMs;
    if (!this.limited) return;
    this.budget = Math.min(this.size, this.budget + (elapsed * this.size) / this.refillTimeMs);
  }
}

export interface RateLimiterConfig {
  /** Bytes. */
  bandwidth?: TokenBucketConfig;
  /** Operations (requests, frames). */
  ops?: TokenBucketConfig;
}

/** Limits one device's I/O by bytes and by operations; a request passes only if both buckets allow it. */
export class RateLimiter implements IoLimiter {
  private bandwidth: TokenBucket | null = null;
  private ops: TokenBucket | null = null;
  private throttled = 0;

  constructor(cfg: RateLimiterConfig, nowMs: number) {
    this.update(cfg, nowMs);
  }

  /** One operation of `bytes`: taken from both buckets, or from neither (and counted as blocked). */
  consume(bytes: number, nowMs: number): boolean {
    const ok = (this.bandwidth?.allows(bytes, nowMs) ?? true) && (this.ops?.allows(1, nowMs) ?? true);
    if (!ok) {
      this.throttled++;
      return false;
    }
    this.bandwidth?.take(bytes);
    this.ops?.take(1);
    return true;
  }

  /** Ms until consume(bytes) would succeed (0 = now); the device arms a timer for this long. */
  waitMs(bytes: number, nowMs: number): number {
    return Math.max(this.bandwidth?.timeUntilAllowed(bytes, nowMs) ?? 0, this.ops?.timeUntilAllowed(1, nowMs) ?? 0);
  }

  /** Reconfigures live: a bucket given keeps its balance (see TokenBucket.update); one left out is removed. */
  update(cfg: RateLimiterConfig, nowMs: number): void {
    this.bandwidth = RateLimiter.bucket(this.bandwidth, cfg.bandwidth, nowMs);
    this.ops = RateLimiter.bucket(this.ops, cfg.ops, nowMs);
  }

  save(nowMs: number): LimiterState {
    return { bandwidth: this.bandwidth?.save(nowMs) ?? null, ops: this.ops?.save(nowMs) ?? null };
  }

  restore(s: LimiterState, nowMs: number): void {
    if (s.bandwidth) this.bandwidth?.restore(s.bandwidth, nowMs);
    if (s.ops) this.ops?.restore(s.ops, nowMs);
  }

  /** Times a request was refused. */
  get blocked(): number {
    return this.throttled;
  }

  private static bucket(old: TokenBucket | null, cfg: TokenBucketConfig | undefined, nowMs: number): TokenBucket | null {
    if (!cfg) return null;
    if (!old) return new TokenBucket(cfg, nowMs);
    old.update(cfg, nowMs);
    return old;
  }
}

/** A token bucket as the API and the stored definitions write it (checked by spec.ts). */
export interface ApiTokenBucket {
  size: number;
  refill_time_ms: number;
  one_time_burst?: number;
}

/**
 * The limiter configuration for an API `rate_limiter`; null when it limits nothing (absent, null, or with
 * neither bucket), which is how a device is told to run unlimited.
 */
export function limiterConfigFromApi(r: { bandwidth?: ApiTokenBucket; ops?: ApiTokenBucket } | null | undefined): RateLimiterConfig | null {
  if (!r || (!r.bandwidth && !r.ops)) return null;
  const bucket = (b: ApiTokenBucket): TokenBucketConfig => {
    const c: TokenBucketConfig = { size: b.size, refillTimeMs: b.refill_time_ms };
    if (b.one_time_burst !== undefined) c.oneTimeBurst = b.one_time_burst;
    return c;
  };
  const cfg: RateLimiterConfig = {};
  if (r.bandwidth) cfg.bandwidth = bucket(r.bandwidth);
  if (r.ops) cfg.ops = bucket(r.ops);
  return cfg;
}

/**
 * Applies a configuration to a device's limiter: null removes it, an existing limiter is reconfigured in
 * place (keeping its balance, see update()), otherwise a new one starts full. Returns what the device uses.
 */
export function applyLimiterConfig(old: RateLimiter | null, cfg: RateLimiterConfig | null, nowMs: number): RateLimiter | null {
  if (!cfg) return null;
  if (!old) return new RateLimiter(cfg, nowMs);
  old.update(cfg, nowMs);
  return old;
}

/** The API's form of a device's limits (limiterConfigFromApi backwards). */
export function limiterConfigToApi(c: RateLimiterConfig): { bandwidth?: ApiTokenBucket; ops?: ApiTokenBucket } {
  const bucket = (b: TokenBucketConfig): ApiTokenBucket => ({
    size: b.size, refill_time_ms: b.refillTimeMs, ...(b.oneTimeBurst !== undefined ? { one_time_burst: b.oneTimeBurst } : {}),
  });
  return { ...(c.bandwidth ? { bandwidth: bucket(c.bandwidth) } : {}), ...(c.ops ? { ops: bucket(c.ops) } : {}) };
}
