// Command-line parsing for the tvisor command: node:util parseArgs tokens checked here, so every mistake
// becomes one line naming the option, and value parsers for sizes, durations and counts.
import { parseArgs } from 'node:util';

/** A mistake in the command line: printed as one line plus a pointer to the command's --help; status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The command whose --help to suggest ('' for the top level). */
    readonly command: string,
  ) {
    super(message);
  }
}

/** Bad input that is not a command-line mistake (unreadable file, not an ELF…): one line, status 2. */
export class InputError extends Error {
  override name = 'InputError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** A string option that may be given several times: its value is an array in order. */
  multiple?: boolean;
  /**
   * Another spelling of the option named here (e.g. `cpus` for `vcpus`, as docker users type it): its value is
   * stored under that name. Help texts document the canonical name and mention the alias.
   */
  aliasOf?: string;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `args` against `options`. Unlike parseArgs' strict mode, the errors are ours: one line each,
 * e.g. "unknown option '--foo'" or "option '--timeout' needs a value".
 */
export function parseCommandLine(args: string[], options: Record<string, OptionSpec>, command: string): ParsedArgs {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean | string[] | undefined> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
    } else if (token.kind === 'option') {
      const own = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
      if (!own) throw new UsageError(`unknown option '${token.rawName}'${didYouMean(token.rawName, optionNames(options))}`, command);
      const name = own.aliasOf ?? token.name;
      const spec = own.aliasOf ? options[own.aliasOf] : own;
      if (spec.type === 'string') {
        if (token.value === undefined) throw new UsageError(`option '${token.rawName}' needs a value`, command);
        if (spec.multiple) ((values[name] ??= []) as string[]).push(token.value);
        else values[name] = token.value;
      } else {
        if (token.inlineValue) throw new UsageError(`option '${token.rawName}' takes no value`, command);
        values[name] = true;
      }
    }
  }
  return { values, positionals };
}

/** Every spelling of the options: `--name` and `-x` forms. */
function optionNames(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).flatMap(([name, spec]) => [`--${name}`, ...(spec.short ? [`-${spec.short}`] : [])]);
}

/**
 * Edit distance for "did you mean": insertions, deletions, substitutions and swaps of two neighbours
 * (optimal string alignment), so `strat` is one edit from `start`.
 */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length];
}

/**
 * " (did you mean 'X'?)" when one candidate is close to what was typed, else ''. Close means an edit distance
 * of at most a third of the word (at least 1), or the typed word being a prefix of just one candidate (`--mem`);
 * short options are only suggested for short typos.
 */
export function didYouMean(typed: string, candidates: readonly string[]): string {
  const word = typed.replace(/^-+/, '');
  if (word.length < 2) return '';
  const prefixed = candidates.filter((c) => c.startsWith(typed) && c !== typed);
  if (prefixed.length === 1) return ` (did you mean '${prefixed[0]}'?)`;
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best = '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(typed.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= limit ? ` (did you mean '${best}'?)` : '';
}

const SIZE_UNITS: Record<string, number> = { '': 2 ** 20, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/**
 * Parses a memory size: a whole number with an optional K, M or G suffix (binary units, optionally followed
 * by "iB" or "B"). A plain number means MiB, as with `qemu -m`.
 */
export function parseSize(text: string, option: string, command: string): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid ${option} value '${text}' (expected a size such as 64M or 1G)`, command);
  const bytes = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${option} ${text} is too large`, command);
  return bytes;
}

/** Parses a positive number of seconds (fractions allowed) and returns milliseconds. */
export function parseSeconds(text: string, option: string, command: string): number {
  const seconds = /^\s*(\d+(\.\d*)?|\.\d+)\s*s?\s*$/i.test(text) ? Number.parseFloat(text) : NaN;
  if (!(seconds > 0) || seconds > 1e9) {
    throw new UsageError(`invalid ${option} value '${text}' (expected a positive number of seconds)`, command);
  }
  return seconds * 1000;
}

/** Parses a positive whole count: digits with optional `_` separators, or a power-of-ten form like 2e9. */
export function parseCount(text: string, option: string, command: string): number {
  const t = text.trim();
  let n = NaN;
  if (/^\d[\d_]*$/.test(t)) n = Number(t.replaceAll('_', ''));
  else if (/^\d+(\.\d+)?e\d+$/i.test(t)) n = Number(t);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`invalid ${option} value '${text}' (expected a positive whole number)`, command);
  }
  return n;
}
