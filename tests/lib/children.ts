// Child processes of a test file (daemons, `tvisor run`): killed when the test process ends, however it ends
// (its tests done, a crash, or the runner's SIGTERM for a file past its time), so a failed test leaves none.
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

process.on('exit', killAll);
// A signal ends the process without 'exit' handlers: kill the children, then die of the same signal.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

/** Kills `child` with SIGKILL when this process ends, unless it has exited by then. */
export function killOnExit(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}
