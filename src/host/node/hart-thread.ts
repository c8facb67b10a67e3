// The Node worker thread that runs one further hart of a multi-vCPU VM (harts in parallel; see
// core/machine/smp.ts): it attaches to the VM thread's shared RAM and link, runs the slices the manager's
// scheduler grants it, and relays the hart's SBI console output, wake-ups of other harts and reset requests.
import { parentPort } from 'node:worker_threads';
import { RemoteHartMachine } from '../../core/machine/smp-hart.js';
import type { FromVm, ToVm } from '../../hypervisor/protocol.js';
import { epochClock } from '../../core/host/clock.js';
import { ConsoleBatcher } from '../../hypervisor/console-batch.js';
import { workerSetup } from './worker-setup.js';
import { warmUp } from '../../core/machine/warmup.js';

const port = parentPort;
if (!port) throw new Error('hart-thread runs as a worker thread');
const post = (m: FromVm) => port.postMessage(m);
/** How this hart translates guest code: the daemon's mode, the same as its VM thread's (worker-setup.ts). */
const { jit } = workerSetup();
// before the first slice: V8 optimizes the interpreter with feedback from every case (core/machine/warmup.ts);
// held for the thread's life
const warmed = warmUp(jit);
void warmed;

let machine: RemoteHartMachine | null = null;
/** The hart's SBI console output, batched and bounded as the VM thread's (console-batch.ts). */
const out = new ConsoleBatcher({
  post: (bytes, dropped) => port.postMessage(dropped > 0 ? { t: 'console', bytes, dropped } : { t: 'console', bytes } satisfies FromVm, [bytes.buffer as ArrayBuffer]),
  later: (fn, ms) => setTimeout(fn, ms),
});

port.on('message', (m: ToVm) => {
  switch (m.t) {
    case 'init-hart':
      try {
        machine = new RemoteHartMachine({
          hartId: m.hartId,
          harts: m.smp.harts,
          memory: m.smp.memory,
          touched: m.smp.touched,
          ramBase: m.smp.ramBase,
          ramSize: m.smp.ramSize,
          link: m.smp.link,
          mmio: m.smp.mmio,
          clock: epochClock(m.smp.epochMs),
          console: (bytes) => out.write(bytes),
          reset: (kind) => post({ t: 'reset', kind }),
          wake: (hart) => post({ t: 'wake', hart }),
          jit,
          mtimeOffset: m.smp.mtimeOffset,
        });
        const saved = m.smp.restore?.[m.hartId - 1];
        if (saved) machine.restore(saved);
        post({ t: 'ready' });
      } catch (e) {
        post({ t: 'init-error', message: (e as Error).message });
      }
      break;
    case 'run': {
      if (!machine) return;
      machine.setStealTime(m.stealNs, false);
      const r = machine.runSlice(m.budgetNs);
      if (!r.idle && !r.crashed) machine.setStealTime(m.stealNs, true);
      out.flush();
      post({
        t: 'slice',
        instructions: r.instructions,
        elapsedNs: r.elapsedNs,
        idle: r.idle,
        idleForNs: r.idle ? machine.idleForNs() : 0,
        exit: r.crashed ? { kind: 'crashed', reason: r.crashed } : null,
      });
      break;
    }
    case 'console-ack':
      out.acked(m.bytes);
      break;
    case 'dirty-log':
      machine?.logWrites(m.buffer);
      post({ t: 'dirty-logged' });
      break;
    case 'dirty-stop':
      machine?.stopLog();
      break;
    case 'hart-save':
      try {
        if (!machine) throw new Error('the hart was not set up');
        post({ t: 'hart-state', state: machine.save() });
      } catch (e) {
        post({ t: 'hart-error', message: (e as Error).message });
      }
      break;
    default:
      break;
  }
});
