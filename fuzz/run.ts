// Runs the fuzz targets under Jazzer.js (libFuzzer with coverage feedback from instrumented JavaScript).
//   node dist/fuzz/run.js <target> [seconds]   one campaign from the seeds in fuzz/corpus/<target>/; inputs
//                                              that add coverage go to fuzz/.corpus/<target>/ (not committed),
//                                              a crash to fuzz/crashes/<target>/ (keep it in fuzz/regressions/)
//   node dist/fuzz/run.js --ci [runs]          every target for a fixed number of executions (default 10000)
// The targets are the ES modules tsc writes to dist/fuzz/targets; Jazzer.js instruments ES modules through
// Node's module.register loader hooks (Node ≥ 20.6), so no bundling is needed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureJazzerLoads } from './lib/jazzer-compat.js';
import { TARGETS } from './targets.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function usage(): never {
  console.error(`usage: npm run fuzz -- <target> [seconds]   |   npm run fuzz:ci [-- runs]\ntargets:\n${Object.entries(TARGETS).map(([n, t]) => `  ${n.padEnd(15)} ${t.about}`).join('\n')}`);
  process.exit(2);
}

/** One libFuzzer run of `name`; `limit` is -runs=N or -max_total_time=S. Returns the exit status. */
function runTarget(name: string, limit: string, extra: string[] = []): number {
  const t = TARGETS[name];
  // libFuzzer adds new inputs to the first directory: a scratch one, so the committed seeds stay small
  const scratch = path.join(root, 'fuzz', '.corpus', name);
  const seeds = path.join(root, 'fuzz', 'corpus', name);
  const crashes = path.join(root, 'fuzz', 'crashes', name);
  fs.mkdirSync(scratch, { recursive: true });
  fs.mkdirSync(crashes, { recursive: true });
  const jazzer = path.join(root, 'node_modules', '.bin', 'jazzer');
  const args = [
    path.join(here, 'targets', `${name}.js`), scratch, seeds,
    ...(t.async ? [] : ['--sync']), '--timeout', '10000',
    // instrument tvisor's code only, not the test harness nor dependencies
    '-i', path.join(root, 'dist', 'src') + '/',
    '--disableBugDetectors', '.*',
    '--', limit, `-max_len=${t.maxLen}`, `-artifact_prefix=${crashes}/`, '-rss_limit_mb=2048', '-print_final_stats=1', ...extra,
  ];
  console.log(`\n==== fuzz ${name} (${limit}) ====`);
  const r = spawnSync(jazzer, args, { stdio: 'inherit', cwd: root });
  return r.status ?? 1;
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.length === 0) usage();
  ensureJazzerLoads();
  if (argv[0] === '--ci') {
    const runs = Number(argv[1] ?? 10000);
    const failed = Object.keys(TARGETS).filter((name) => runTarget(name, `-runs=${runs}`) !== 0);
    if (failed.length > 0) {
      console.error(`\nfuzz: ${failed.join(', ')} failed; the crash inputs are in fuzz/crashes/<target>/`);
      process.exit(1);
    }
    return;
  }
  const [name, seconds] = argv;
  if (!TARGETS[name]) usage();
  process.exit(runTarget(name, `-max_total_time=${Number(seconds ?? 60)}`, argv.slice(2)));
}

main();
