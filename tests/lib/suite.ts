// The test runner behind `npm test`: finds every compiled *.test.js under dist/, runs them several files at a
// time (longest first, from the durations the last run kept in the cache; the JIT_ALL files a second time with
// TVISOR_JIT=all among them), then the load-sensitive files one at a time, and prints where the time went.
// Usage: node dist/tests/lib/suite.js --help.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { e2fsTool, repoRoot } from './toolchain.js';
import { defaultCacheDir } from '../../src/images/node/guest.js';
import { ensureDefaultGuest } from '../../src/images/index.js';
import { debianImageToBuild } from './debian.js';

const HELP = `Usage: node dist/tests/lib/suite.js [options] [FILE…]

Runs the compiled test files (every *.test.js under dist/, or the FILEs given: paths, or parts of their
names such as cli-client). Files run several at a time, except those that measure host-CPU shares or
latencies, which run afterwards one at a time; a file is failed after 30 minutes, except the Debian system's
test (80: it builds its image, about 40 minutes, when the image cache has none), which runs beside the rest. Build first (npm run build); npm test does both.

The ISA programs, the differential tests against qemu-riscv64, the Debian boot tests and the cross-thread
atomics run a second time with TVISOR_JIT=all (every block translated at its first run), beside the
others; their results are named '… [jit=all]'. The other runs get the environment's TVISOR_JIT, by default
none (the JIT's default mode). A FILE selects both runs of a file; 'jit=all' selects the second runs only.

Options:
  --unit               only the tests that boot no guest (the *.test.js outside dist/tests/)
  --quick              --unit plus the guest tests that usually take under a minute each
  --jit-all            only the runs with TVISOR_JIT=all (of the FILEs given, else of every such file)
  --concurrency N      files at a time in the first phase (default: the number of CPUs, at least 2;
                       also $TVISOR_TEST_CONCURRENCY)
  --list               print the plan (files, phases, expected seconds) and run nothing
  -h, --help           show this help
`;

/**
 * Files that measure shares of the host's CPUs or request latencies: other tests running beside them would
 * take CPU they count on, so they run alone, after the rest. (Paths relative to dist/.)
 */
export const SERIAL: Record<string, string> = {
  'tests/smp-guest.test.js': '2 vCPUs on 2 pCPUs must get > 1.5 host CPUs',
  'tests/scheduler-guest.test.js': 'weights and caps are checked as fractions of a host CPU over wall time',
  'tests/steal-time.test.js': 'a guest alone on its pCPU must see < 10% steal; two must see about 50%',
  'tests/serve-flood.test.js': 'median API latency < 100 ms and SIGTERM-to-exit < 10 s while a guest floods',
  'tests/serve-admission.test.js': '50 VMs started at once on --pcpus 2; the API must answer within 15 s meanwhile',
};

/**
 * Files under tests/ that took under a minute each on a busy 2-core machine (--quick runs them with the unit
 * tests): the CLI's errors, --jit on every command, the ISA programs (and the interpreter's warm-up against
 * them), the daemon's HTTP and file checks, one Debian guest driven by the CLI, SMP atomics, the differential
 * tests against QEMU and 50 idle VMs started at once.
 */
export const QUICK: string[] = [
  'tests/run-cli.test.js',
  'tests/jit-cli.test.js',
  'tests/isa-unpriv.test.js',
  'tests/isa-priv.test.js',
  'tests/isa-fp.test.js',
  'tests/warmup.test.js',
  'tests/serve-http.test.js',
  'tests/serve-files.test.js',
  'tests/cli-client.test.js',
  'tests/smp-atomics.test.js',
  'tests/differential.test.js',
  'tests/serve-admission.test.js',
];

/**
 * Files that run a second time with TVISOR_JIT=all, in the same phase as the rest (issue 14: a test that passes
 * with the default and fails with `all` is a JIT bug): the ISA programs, the differential tests against
 * qemu-riscv64, the Debian boots (SBI, OpenSBI, two harts, reboot) and AMOs across hart threads (1 s). Every
 * tvisor and hart worker they start inherits the variable. Their schedule entries, durations and result names carry JIT_TAG.
 */
export const JIT_ALL: string[] = [
  'tests/isa-unpriv.test.js',
  'tests/isa-priv.test.js',
  'tests/isa-fp.test.js',
  'tests/differential.test.js',
  'tests/differential-fp.test.js',
  'tests/linux-boot.test.js',
  'tests/smp-atomics.test.js',
];

export const JIT_TAG = ' [jit=all]';

/**
 * A second run of a file needs another path: node:test names results by the file that calls test(), and runs
 * every file with the runner's own environment. So each [jit=all] entry runs a copy of the compiled file
 * beside it (its imports resolve alike), whose first line sets the variable before any other import runs;
 * line numbers stay those of the original. The copies end in .jit-all.mjs, which no test glob matches.
 */
const JIT_COPY = '.jit-all.mjs';
const JIT_PRELUDE = `import 'data:text/javascript,process.env.TVISOR_JIT="all"'; `;

const isJitEntry = (entry: string) => entry.endsWith(JIT_TAG);
const baseOf = (entry: string) => (isJitEntry(entry) ? entry.slice(0, -JIT_TAG.length) : entry);

/** The file node:test runs for a schedule entry (absolute). */
function pathOf(entry: string): string {
  return join(distDir, isJitEntry(entry) ? baseOf(entry).replace(/\.test\.js$/, JIT_COPY) : entry);
}

/** The schedule entry of a file node:test reports about (relative to dist/). */
function entryOf(file: string): string {
  return file.endsWith(JIT_COPY) ? `${file.slice(0, -JIT_COPY.length)}.test.js${JIT_TAG}` : file;
}

/** Writes the copies the [jit=all] entries run; returns a function that removes them. */
function writeJitCopies(entries: string[]): () => void {
  const copies = entries.filter(isJitEntry).map((e) => {
    const copy = pathOf(e);
    writeFileSync(copy, JIT_PRELUDE + readFileSync(join(distDir, baseOf(e)), 'utf8'));
    return copy;
  });
  return () => copies.forEach((c) => rmSync(c, { force: true }));
}

/** Result names of a [jit=all] run get JIT_TAG, at every level, so the report says which run a result is of. */
function tagJitResults(): Transform {
  return new Transform({
    objectMode: true,
    transform(ev: { type: string; data?: { file?: string; name?: unknown } }, _encoding, done) {
      const d = ev.data;
      const tag = d?.file?.endsWith(JIT_COPY) && typeof d.name === 'string' && d.name !== d.file;
      done(null, d && tag ? { ...ev, data: { ...d, name: `${d.name as string}${JIT_TAG}` } } : ev);
    },
  });
}

/**
 * A file still running after this long is ended and counted as failed, so that a hang costs half an hour,
 * not the CI job's 90 minutes. The longest file took under 9 minutes under a load average of 10.
 */
const FILE_TIMEOUT_MS = 30 * 60_000;

/**
 * Files allowed longer than FILE_TIMEOUT_MS, run beside the first phase's others (one stream of their own, so
 * their timeout is theirs alone): the Debian system's test builds its image when the cache has none (about 40
 * minutes of dpkg under emulation, then the boots); xv6's usertests take minutes per hart count.
 */
const DEBIAN_FILES = ['tests/debian-system.test.js', 'tests/debian-firmware.test.js'];
export const LONG: Record<string, number> = {
  // the Debian system, and U-Boot and EDK2 booting it (one stream: see ONE_STREAM)
  [DEBIAN_FILES[0]]: 80 * 60_000,
  [DEBIAN_FILES[1]]: 80 * 60_000,
  // xv6's usertests -q on 1 and on 3 harts (when xv6's source can be had: tests/lib/xv6.ts)
  'tests/xv6.test.js': 70 * 60_000,
};

/**
 * LONG files that run one after the other in one stream rather than each in its own. The Debian files: each of
 * them boots 2-vCPU Debian systems, and run at once beside the other files' two streams they loaded a 2-core
 * machine so (load average 12) that one reboot took 21 minutes, near its deadline, and the whole run took no less.
 */
const ONE_STREAM: string[][] = [DEBIAN_FILES];

const distDir = join(repoRoot, 'dist');
const timesFile = () => join(defaultCacheDir(), 'test-times.json');

/**
 * Every *.test.js under `dir` whose .ts source still exists (tsc leaves the output of a removed or renamed
 * file in dist/), as paths relative to dist/.
 */
function findTestFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') out.push(...findTestFiles(path));
    else if (e.isFile() && e.name.endsWith('.test.js')) {
      const file = relative(distDir, path);
      if (existsSync(join(repoRoot, file.replace(/\.js$/, '.ts')))) out.push(file);
      else process.stderr.write(`# not running dist/${file}: its source ${file.replace(/\.js$/, '.ts')} is gone\n`);
    }
  }
  return out.sort();
}

/**
 * The entries named on the command line: a path to a .test.js/.test.ts, or a part of a test file's name, pick
 * the file's entries (both runs of a JIT_ALL file); a part of an entry's name such as 'jit=all' picks that entry.
 */
function pickFiles(all: string[], names: string[]): string[] {
  const picked = new Set<string>();
  for (const name of names) {
    const asPath = relative(distDir, resolve(name.replace(/\.ts$/, '.js'))).replace(/^\.\.\/(?=tests\/|src\/|fuzz\/)/, '');
    const hits = all.filter((e) => baseOf(e) === asPath || baseOf(e) === name.replace(/\.ts$/, '.js') || e.includes(name));
    if (hits.length === 0) throw new Error(`no test file matches '${name}' under ${distDir} (run npm run build first?)`);
    for (const h of hits) picked.add(h);
  }
  return [...picked].sort();
}

function loadTimes(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(timesFile(), 'utf8')) as Record<string, number>;
  } catch {
    return {}; // first run, or an unreadable file: no ordering hints
  }
}

function saveTimes(times: Record<string, number>): void {
  try {
    mkdirSync(defaultCacheDir(), { recursive: true });
    writeFileSync(`${timesFile()}.tmp`, `${JSON.stringify(times, null, 1)}\n`);
    renameSync(`${timesFile()}.tmp`, timesFile());
  } catch (e) {
    process.stderr.write(`# could not keep the test durations in ${timesFile()}: ${(e as Error).message}\n`);
  }
}

/** Longest first (guest tests never timed count as long), so that a long file does not start last. */
function longestFirst(files: string[], times: Record<string, number>): string[] {
  const t = (f: string) => times[f] ?? (f.startsWith('tests/') ? Infinity : 0);
  return [...files].sort((a, b) => t(b) - t(a) || a.localeCompare(b));
}

/**
 * Runs `files` `concurrency` at a time with the spec reporter on stdout; resolves with each file's seconds
 * (from its start to its last event) and whether anything failed.
 */
function runPhase(entries: string[], concurrency: number, timeout = FILE_TIMEOUT_MS): Promise<{ seconds: Record<string, number>; failed: boolean }> {
  return new Promise((done) => {
    const started = new Map<string, number>();
    const seconds: Record<string, number> = {};
    let failed = false;
    // forceExit: a file whose tests are done exits even if a failed test left a child running (the helpers in
    // tests/lib kill their children when the process exits), instead of hanging the suite
    const stream = run({ files: entries.map(pathOf), concurrency, forceExit: true, timeout });
    stream.on('data', (ev: { type: string; data?: { file?: string; todo?: unknown } }) => {
      const file = ev.data?.file ? entryOf(relative(distDir, ev.data.file)) : undefined;
      if (ev.type === 'test:fail' && !ev.data?.todo) failed = true; // a failing todo test fails nothing, as with node --test
      if (!file) return;
      if (ev.type === 'test:dequeue' && !started.has(file)) started.set(file, performance.now());
      const t0 = started.get(file);
      if (t0 !== undefined) seconds[file] = (performance.now() - t0) / 1000;
    });
    const report = stream.compose(tagJitResults()).compose(new spec());
    report.pipe(process.stdout, { end: false });
    report.on('end', () => done({ seconds, failed }));
  });
}

/** The streams the LONG files of a phase run in: those ONE_STREAM groups together share one, in its order. */
function longStreams(long: string[]): string[][] {
  const streams: string[][] = [];
  const grouped = new Set<string>();
  for (const group of ONE_STREAM) {
    const members = group.flatMap((g) => long.filter((f) => baseOf(f) === g));
    if (members.length > 0) streams.push(members);
    for (const m of members) grouped.add(m);
  }
  for (const f of long) if (!grouped.has(f)) streams.push([f]);
  return streams;
}

function concurrencyOf(flag: string | undefined): number {
  const text = flag ?? process.env.TVISOR_TEST_CONCURRENCY;
  if (text === undefined) return Math.max(2, availableParallelism());
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency must be a whole number from 1, got '${text}'`);
  return n;
}

/** The schedule's entries: the files chosen, each JIT_ALL file among them also as its [jit=all] entry. */
function selection(all: string[], values: { unit?: boolean; quick?: boolean; 'jit-all'?: boolean }, names: string[]): string[] {
  const entries = [...all, ...all.filter((f) => JIT_ALL.includes(f)).map((f) => `${f}${JIT_TAG}`)];
  let chosen = entries;
  if (names.length > 0) chosen = pickFiles(entries, names);
  else if (values.unit) chosen = entries.filter((e) => !e.startsWith('tests/'));
  else if (values.quick) chosen = entries.filter((e) => !e.startsWith('tests/') || QUICK.includes(baseOf(e)));
  return values['jit-all'] ? chosen.filter(isJitEntry) : chosen;
}

/**
 * Fetches (or finds) the default guest once, before files that need it start several at a time. A failure
 * is only reported: each test that needs the guest then says why it cannot run.
 */
async function primeGuest(files: string[]): Promise<void> {
  if (!files.some((f) => f.startsWith('tests/'))) return;
  const log = (line: string) => process.stderr.write(`# ${line}\n`);
  try {
    await ensureDefaultGuest({ log });
  } catch (e) {
    log(`the default guest is not available: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const fmt = (s: number | undefined) => (s === undefined ? '    ?' : `${s.toFixed(0).padStart(5)}`);

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      unit: { type: 'boolean' }, quick: { type: 'boolean' }, list: { type: 'boolean' }, 'jit-all': { type: 'boolean' },
      concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const all = findTestFiles(distDir);
  for (const f of [...Object.keys(SERIAL), ...QUICK, ...JIT_ALL, ...Object.keys(LONG)]) if (!all.includes(f)) throw new Error(`tests/lib/suite.ts names ${f}, but there is no such test file: update the list`);
  const files = selection(all, values, positionals);
  const concurrency = concurrencyOf(values.concurrency);
  const times = loadTimes();
  // A Debian image to build (none cached for its recipe: a fresh machine): its build VM keeps a core busy for
  // tens of minutes, and with two more files beside it on a 2-core machine all three crawl (the build took
  // 50 minutes so, 17 alone). Unless told how many, the others then go one at a time beside it.
  const building = DEBIAN_FILES.some((f) => files.includes(f)) && e2fsTool('debootstrap') !== undefined && debianImageToBuild() && values.concurrency === undefined && process.env.TVISOR_TEST_CONCURRENCY === undefined;
  const firstConcurrency = building ? Math.max(1, concurrency - 1) : concurrency;
  if (building) process.stderr.write(`# the Debian image is to be built: the other files run ${firstConcurrency} at a time beside its build\n`);
  const phases = [
    { name: `${firstConcurrency} at a time`, files: longestFirst(files.filter((f) => !(f in SERIAL)), times), concurrency: firstConcurrency },
    { name: 'one at a time (load-sensitive)', files: files.filter((f) => f in SERIAL), concurrency: 1 },
  ].filter((p) => p.files.length > 0);

  if (values.list) {
    for (const p of phases) {
      process.stdout.write(`${p.name}:\n`);
      for (const f of p.files) process.stdout.write(`${fmt(times[f])} s  ${f}${SERIAL[f] ? `  (${SERIAL[f]})` : ''}\n`);
    }
    return 0;
  }
  await primeGuest(files);

  let failed = false;
  const summary: string[] = [];
  const removeCopies = writeJitCopies(files);
  try {
    for (const p of phases) {
      const t0 = performance.now();
      // the LONG files of a phase run beside its others, in streams of their own (longStreams) with their own timeout
      const long = p.files.filter((f) => baseOf(f) in LONG);
      const rest = p.files.filter((f) => !long.includes(f));
      // each stream's end, so that the summary shows which one the phase waited for
      const since = () => ((performance.now() - t0) / 1000).toFixed(0);
      const ends: string[] = [];
      const stream = (what: string, r: Promise<{ seconds: Record<string, number>; failed: boolean }>) =>
        r.then((x) => (ends.push(`${what} done at ${since()} s`), x));
      const runs = await Promise.all([
        ...(rest.length ? [stream(`${rest.length} files`, runPhase(rest, p.concurrency))] : []),
        ...longStreams(long).map((fs) => stream(fs.join(' then '), runPhase(fs, 1, Math.max(...fs.map((f) => LONG[baseOf(f)]))))),
      ]);
      for (const r of runs) {
        failed ||= r.failed;
        Object.assign(times, r.seconds);
      }
      summary.push(`# ${p.name}: ${p.files.length} files in ${since()} s${long.length ? ` (${ends.join(', ')})` : ''}`);
    }
  } finally {
    removeCopies();
  }
  saveTimes(times);
  const slowest = files.filter((f) => times[f] !== undefined).sort((a, b) => times[b] - times[a]).slice(0, 12);
  process.stdout.write(`\n${summary.join('\n')}\n# slowest files (seconds from start to end, run beside others):\n`);
  for (const f of slowest) process.stdout.write(`#${fmt(times[f])} s  ${f}\n`);
  return failed ? 1 : 0;
}

main().then((code) => (process.exitCode = code), (e) => {
  process.stderr.write(`suite: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
