// How V8 compiles the JIT's WebAssembly in this process. Translated guest pages are large functions with many
// blocks; V8 runs each first in its baseline compiler (Liftoff) and re-compiles the ones it finds hot with its
// optimising compiler (TurboFan), which for these functions costs far more than it saves unless the code runs
// very long. Measured on a Debian boot (1.77 G instructions, 3,400 translated pages): V8's default tiering
// 38.7 s, baseline only 13.8 s, tiering after 1e9 budget units 15.2 s; a tight loop runs at 2,640 MIPS with
// that budget against 1,570 baseline-only. So hot loops still reach optimised code, boots are not stalled.
// Later, with pages chained in wasm, the boot still spent 10 s of background CPU in the optimising compiler
// (against 7 s on the main thread) for no gain: the busybox workload of `npm run bench:guest` took the same
// time baseline-only. Twice the budget (2e9, near the flag's int32 limit) cut the boot's wall time by 13%
// (farm-bench, 5 pairs: 6.85 s against 7.85 s) and left the workload unchanged.
import { setFlagsFromString } from 'node:v8';

/** V8's tier-up budget for WebAssembly functions (its unit: roughly one per executed wasm instruction). */
const TIERING_BUDGET = 2_000_000_000;

/** Sets V8's wasm tier-up budget for this process (flags are process-wide: worker threads share them). */
export function tuneWasmTiering(): void {
  setFlagsFromString(`--wasm-tiering-budget=${TIERING_BUDGET}`);
}
