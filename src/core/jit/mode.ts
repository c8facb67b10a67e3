// When a hart translates guest code to WebAssembly: the switch behind `--jit` and TVISOR_JIT.

/**
 * - `on`: hot code is translated (the default);
 * - `off`: the interpreter runs everything;
 * - `all`: every block is translated on its first execution, so tests exercise the translator everywhere.
 */
export type JitMode = 'on' | 'off' | 'all';

export const JIT_MODES: readonly JitMode[] = ['on', 'off', 'all'];

export const DEFAULT_JIT_MODE: JitMode = 'on';

/** Parses a mode given by a user (`--jit X`, TVISOR_JIT=X); `from` names where it came from for the error. */
export function parseJitMode(value: string, from = '--jit'): JitMode {
  const v = value.trim().toLowerCase();
  if ((JIT_MODES as readonly string[]).includes(v)) return v as JitMode;
  throw new RangeError(`${from} must be one of ${JIT_MODES.join(', ')}, got '${value}'`);
}
