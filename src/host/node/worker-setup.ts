// What `tvisor serve` tells each VM thread and hart thread at its start (the Worker's workerData), and how a
// thread reads it: today the JIT mode every hart of the thread is built with.
import { workerData } from 'node:worker_threads';
import { DEFAULT_JIT_MODE, parseJitMode, type JitMode } from '../../core/jit/mode.js';

export interface WorkerSetup {
  /** The mode every hart of the thread's VMs is built with (serve --jit, else $TVISOR_JIT, else on). */
  jit: JitMode;
}

/**
 * This thread's setup; a thread started without one (a test's own Worker) gets the defaults. A mode serve did
 * not validate cannot arrive, but a wrong one is refused here rather than silently run as something else.
 */
export function workerSetup(): WorkerSetup {
  const data = workerData as Partial<WorkerSetup> | null | undefined;
  return { jit: data?.jit === undefined ? DEFAULT_JIT_MODE : parseJitMode(data.jit, 'the thread\'s jit mode') };
}
