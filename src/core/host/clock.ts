// Host clock interface handed to the core: the core never reads host time on its own.

/** A monotonic clock in nanoseconds (fractional allowed). `performance.now()` works in Node and browsers. */
export interface Clock {
  nowNs(): number;
}

/** The default clock: the host's monotonic clock through the global `performance` object. */
export function monotonicClock(): Clock {
  return { nowNs: () => performance.now() * 1e6 };
}
