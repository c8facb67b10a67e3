// A worker thread running one hart on RAM shared with other threads (tests of cross-thread atomics): it
// attaches to the shared WebAssembly memory, starts its hart in M-mode at `entry` and runs until the 32-bit
// word at `doneAddr` reaches `doneValue`, then reports how many instructions it retired. Its hart takes the JIT
// mode from $TVISOR_JIT (a worker sees its parent's environment), as tvisor's commands do.
import { parentPort, workerData } from 'node:worker_threads';
import { GuestRam } from '../../src/core/machine/memory.js';
import { CodeCache } from '../../src/core/mmu/codecache.js';
import { Bus } from '../../src/core/devices/bus.js';
import { Clint, Timebase } from '../../src/core/devices/clint.js';
import { Hart } from '../../src/core/cpu/hart.js';
import { monotonicClock } from '../../src/core/host/clock.js';
import { DEFAULT_JIT_MODE, parseJitMode } from '../../src/core/jit/mode.js';

interface Job { memory: WebAssembly.Memory; base: number; size: number; hartId: number; harts: number; entry: number; doneAddr: number; doneValue: number }

const job = workerData as Job;
const ram = GuestRam.attach(job.memory, job.base, job.size);
const code = new CodeCache(ram);
const clint = new Clint(new Timebase(monotonicClock()), job.harts);
const jit = process.env.TVISOR_JIT ? parseJitMode(process.env.TVISOR_JIT, 'TVISOR_JIT') : DEFAULT_JIT_MODE;
const hart = new Hart({ hartId: job.hartId, ram, bus: new Bus(), code, clint, jit });
hart.reset(job.entry | 0, 0);
const done = (job.doneAddr - job.base) >> 2;
const deadline = Date.now() + 120_000;
while (Atomics.load(ram.i32, done) < job.doneValue && Date.now() < deadline) hart.run(50_000);
parentPort!.postMessage({ retired: hart.retired, finished: Atomics.load(ram.i32, done) >= job.doneValue });
