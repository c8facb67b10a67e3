// The `--jit on|off|all` option of run, bare and serve, with $TVISOR_JIT as its default, and the `--stats` line
// that shows which mode the harts ran in (and how fast), so a user and the tests can see the setting took hold.
import { DEFAULT_JIT_MODE, JIT_MODES, parseJitMode, type JitMode } from '../core/jit/mode.js';
import { UsageError } from './args.js';
import type { JitStats } from '../core/jit/jit.js';

/** The help lines for --jit, the same in every command that takes it; `width` is the option column's. */
export function jitHelp(width: number): string {
  const more = ' '.repeat(width + 2);
  return `  ${`--jit ${JIT_MODES.join('|')}`.padEnd(width)}translate guest code to WebAssembly: on (hot code), off
${more}(interpret everything) or all (every block when it first runs: for testing
${more}the translator); default: $TVISOR_JIT if set, else ${DEFAULT_JIT_MODE}`;
}

/**
 * The mode: `--jit`'s value, else $TVISOR_JIT (an empty value counts as unset), else `on`. A bad value is a
 * usage error naming where it came from, e.g. "TVISOR_JIT must be one of on, off, all, got 'fast'".
 */
export function jitModeOf(flag: string | boolean | string[] | undefined, command: string, env: NodeJS.ProcessEnv = process.env): JitMode {
  const [value, from] = typeof flag === 'string' ? [flag, '--jit'] : [env.TVISOR_JIT || undefined, 'TVISOR_JIT'];
  if (value === undefined) return DEFAULT_JIT_MODE;
  try {
    return parseJitMode(value, from);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message, command);
    throw e;
  }
}

/** The harts' modes as one word (they agree, unless something set one hart apart: then e.g. "on/all"). */
export function modesOf(harts: readonly { jitMode: JitMode }[]): string {
  return [...new Set(harts.map((h) => h.jitMode))].join('/');
}

/**
 * The `--stats` line: e.g. "tvisor: 123456789 instructions in 2.50 s (49.4 MIPS), jit on". Wall time, so on a
 * busy host the MIPS figure is lower than the hart's own speed.
 */
export function statsLine(instructions: number, elapsedMs: number, jit: string): string {
  const mips = elapsedMs > 0 ? instructions / elapsedMs / 1000 : 0;
  return `tvisor: ${instructions} instructions in ${(elapsedMs / 1000).toFixed(3)} s (${mips.toFixed(1)} MIPS), jit ${jit}\n`;
}

/**
 * The translator's share of the work, for `--stats`: e.g. "tvisor: jit ran 97.1% of instructions in 21241193
 * calls (80.3 per call, 4120356 from JavaScript); 412 translations (31 MiB of wasm), 1834 ms translating,
 * longest 41 ms". Null when no hart has a translator.
 */
export function jitStatsLine(instructions: number, harts: readonly { jit: { stats: JitStats } | null }[]): string | null {
  const all = harts.map((h) => h.jit?.stats).filter((s): s is JitStats => s !== undefined);
  if (all.length === 0) return null;
  const sum = (f: (s: JitStats) => number) => all.reduce((n, s) => n + f(s), 0);
  const share = instructions > 0 ? (100 * sum((s) => s.retired)) / instructions : 0;
  const runs = sum((s) => s.runs);
  return `tvisor: jit ran ${share.toFixed(1)}% of instructions in ${runs} calls (${(sum((s) => s.retired) / Math.max(runs, 1)).toFixed(1)} per call, ` +
    `${sum((s) => s.entered)} from JavaScript); ${sum((s) => s.translations)} translations ` +
    `(${(sum((s) => s.bytes) / 2 ** 20).toFixed(1)} MiB of wasm), ${sum((s) => s.ms).toFixed(0)} ms translating, ` +
    `longest ${Math.max(...all.map((s) => s.maxMs)).toFixed(1)} ms; dropped ${sum((s) => s.written)} written and ${sum((s) => s.uncached)} uncached, ${sum((s) => s.givenUp)} pages given up, ` +
    `${sum((s) => s.noSlot)} hot pages without a slot\n`;
}
