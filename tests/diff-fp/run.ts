// Run the F/D differential test by hand:
//   node dist/tests/diff-fp/run.js [--seed N] [--count M] [--seeds K] [--only REGEX] [--keep] [--print]
// --count: random operand sets per instruction (default 200); --only: instructions whose mnemonic matches;
// --print writes the generated assembly to stdout and exits.
import { checkFpSeed } from './harness.js';
import { emitSource, generate } from './gen.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write('usage: node dist/tests/diff-fp/run.js [--seed N] [--count M] [--seeds K] [--only REGEX] [--keep] [--print]\n');
  process.exit(2);
}

let seed: number | undefined;
let count = 200;
let seeds = 1;
let keep = false;
let print = false;
let only: RegExp | undefined;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const num = (): number => {
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 0) usage(`${a} needs a non-negative integer`);
    return v;
  };
  if (a === '--seed') seed = num();
  else if (a === '--count') count = num();
  else if (a === '--seeds') seeds = num();
  else if (a === '--keep') keep = true;
  else if (a === '--print') print = true;
  else if (a === '--only') {
    const s = argv[++i];
    if (s === undefined) usage('--only needs a regular expression');
    only = new RegExp(s);
  } else usage(`unknown argument ${a}`);
}
if (seed === undefined) seed = Math.floor(Math.random() * 0x1_0000_0000);
const filter = only ? (i: { name: string }) => only!.test(i.name) : undefined;

if (print) {
  process.stdout.write(emitSource(generate(seed, count, filter)));
  process.exit(0);
}

let failed = 0;
for (let s = seed; s < seed + seeds; s++) {
  const t0 = Date.now();
  const r = checkFpSeed(s >>> 0, count, { keep, only: filter });
  process.stdout.write(`${r.report} (${((Date.now() - t0) / 1000).toFixed(1)} s)${keep && r.ok ? `\nfiles: ${r.dir}` : ''}\n`);
  if (!r.ok) failed++;
}
if (seeds > 1) process.stdout.write(`${seeds - failed}/${seeds} seeds passed\n`);
process.exit(failed ? 1 : 0);
