// Host clock interface handed to the core: the core never reads host time on its own.

/** A monotonic clock in nanoseconds (fractional allowed). `performance.now()` works in Node and browsers. */
export interface Clock {
  nowNs(): number;
}

/** The default clock: the host's monotonic clock through the global `performance` object. */
export function monotonicClock(): Clock {
  return { nowNs: () => performance.now() * 1e6 };
}

/**
 * A clock all threads of one VM agree on: ns since `epochMs`, a value of performance.timeOrigin +
 * performance.now() taken in any thread (each thread's performance.now() starts at its own origin).
 */
export function epochClock(epochMs: number): Clock {
  return { nowNs: () => (performance.timeOrigin + performance.now() - epochMs) * 1e6 };
}

/** A wall clock: nanoseconds since the Unix epoch (1970-01-01T00:00:00Z), for the guest's RTC. */
export interface WallClock {
  nowNs(): bigint;
}

/**
 * The default wall clock: the host's time at start-up plus its monotonic clock since then, so the RTC
 * never steps backwards when the host adjusts its clock. Precision is that of a double in milliseconds
 * near 2^41 (about 0.25 µs).
 */
export function systemWallClock(): WallClock {
  return {
    nowNs: () => {
      const ms = performance.timeOrigin + performance.now();
      const whole = Math.floor(ms);
      return BigInt(whole) * 1_000_000n + BigInt(Math.floor((ms - whole) * 1e6));
    },
  };
}
