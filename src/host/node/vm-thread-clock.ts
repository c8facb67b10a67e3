// The clock the threads of one multi-vCPU VM share: every thread has its own performance.timeOrigin, so
// time is taken on the common scale timeOrigin + now() and counted from the VM's epoch.
import type { Clock } from '../../core/host/clock.js';

/** ns since `epochMs` (a value of performance.timeOrigin + performance.now(), in any thread). */
export function epochClock(epochMs: number): Clock {
  return { nowNs: () => (performance.timeOrigin + performance.now() - epochMs) * 1e6 };
}
