// Run differential tests by hand:
//   node dist/tests/diff/run.js --seed N [--count M] [--seeds K] [--profile P] [--qemu-only] [--keep] [--print]
// --seeds K runs seeds N..N+K-1; --profile is one of mixed (default), alu, mem, control; --print writes the
// generated assembly to stdout and exits; --keep keeps the build directory; --qemu-only skips tvisor.
import { checkSeed } from './harness.js';
import { PROFILES, Profile, emitSource, generate } from './gen.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write('usage: node dist/tests/diff/run.js --seed N [--count M] [--seeds K] [--profile mixed|alu|mem|control] [--qemu-only] [--keep] [--print]\n');
  process.exit(2);
}

let seed: number | undefined;
let count = 300;
let seeds = 1;
let qemuOnly = false;
let keep = false;
let print = false;
let profile: Profile = 'mixed';
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
  else if (a === '--qemu-only') qemuOnly = true;
  else if (a === '--keep') keep = true;
  else if (a === '--print') print = true;
  else if (a === '--profile') {
    const p = argv[++i];
    if (!(PROFILES as readonly string[]).includes(p)) usage(`--profile must be one of ${PROFILES.join(', ')}`);
    profile = p as Profile;
  }
  else usage(`unknown argument ${a}`);
}
if (seed === undefined) seed = Math.floor(Math.random() * 0x1_0000_0000);

if (print) {
  process.stdout.write(emitSource(generate(seed, count, profile)));
  process.exit(0);
}

let failed = 0;
for (let s = seed; s < seed + seeds; s++) {
  const r = checkSeed(s >>> 0, count, { qemuOnly, keep, profile });
  process.stdout.write(r.report + (keep && r.ok ? `\nfiles: ${r.dir}` : '') + '\n');
  if (!r.ok) failed++;
}
if (seeds > 1) process.stdout.write(`${seeds - failed}/${seeds} seeds passed\n`);
process.exit(failed ? 1 : 0);
