// A Debian system disk for the tests and the benchmark (issue 17): built once with `tvisor image build --distro
// debian` and kept in the image cache (CACHE/test/debian-SUITE.img, with the SSH key baked into it), so that later
// runs on the same machine reuse it; a build says how long it took. A recipe hash (the package list and the
// scripts the build runs) in a record beside the image makes a changed recipe build it again. Guests boot it
// through an overlay, so it stays as built. Also: a driver for a guest's serial console (a root shell).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCacheDir, DEFAULT_SUITE } from '../../src/images/node/guest.js';
import { DEBIAN_BASE_PACKAGES, secondStageScript, setupScript } from '../../src/images/node/debian-system.js';
import { cliPath } from './toolchain.js';
import { killOnExit } from './children.js';

export interface DebianImage {
  path: string;
  /** The private key whose public half is root's authorized_keys in the image. */
  sshKey: string;
  /** Seconds the build took, when this call built it. */
  builtSeconds?: number;
}

const RECIPE_FORMAT = 1;
/** A build still running after this long is ended with its last lines (the test file's own limit is 80 minutes). */
const BUILD_DEADLINE_MS = 70 * 60_000;

function recipe(): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([RECIPE_FORMAT, DEBIAN_BASE_PACKAGES, secondStageScript(), setupScript({ uuid: 'U', hostname: 'H', sshKey: 'K' })]));
  return h.digest('hex').slice(0, 16);
}

/** Where the cached image, its key and its record live. */
function cachePaths() {
  const dir = join(defaultCacheDir(), 'test');
  return {
    dir,
    path: join(dir, `debian-${DEFAULT_SUITE}.img`),
    sshKey: join(dir, `debian-${DEFAULT_SUITE}.key`),
    record: join(dir, `debian-${DEFAULT_SUITE}.json`),
  };
}

/** The cached image's record, when the image and its key are there and were made by this recipe. */
function cachedRecord(): { recipe: string; built: string; seconds: number } | null {
  const { path, sshKey, record } = cachePaths();
  try {
    const r = JSON.parse(readFileSync(record, 'utf8')) as { recipe: string; built: string; seconds: number };
    return r.recipe === recipe() && existsSync(path) && existsSync(sshKey) ? r : null;
  } catch {
    return null; // no record: to be built
  }
}

/** Whether debianImage() would build (tens of minutes of a build VM) rather than take the cached image. */
export function debianImageToBuild(): boolean {
  return process.env.TVISOR_TEST_DEBIAN === undefined && cachedRecord() === null;
}

/** The cached image, built first when missing or made by another recipe (minutes: see the log). */
export async function debianImage(log: (line: string) => void = (l) => process.stderr.write(`# ${l}\n`)): Promise<DebianImage> {
  // an image made elsewhere (and its key), to try the tests without a build: TVISOR_TEST_DEBIAN=IMAGE:KEY
  const given = process.env.TVISOR_TEST_DEBIAN?.split(':');
  if (given?.length === 2) {
    log(`using the Debian image ${given[0]} (TVISOR_TEST_DEBIAN)`);
    return { path: given[0], sshKey: given[1] };
  }
  const { dir, path, sshKey, record } = cachePaths();
  mkdirSync(dir, { recursive: true });
  const want = recipe();
  // one build at a time: two test files beside each other both want the image, and the second waits for the first
  const lock = await buildLock(join(dir, `debian-${DEFAULT_SUITE}.lock`), log);
  try {
    const cached = cachedRecord();
    if (cached) {
      log(`using the Debian image built ${cached.built} in ${cached.seconds} s (${path})`);
      return { path, sshKey };
    }
    return await build(want, log);
  } finally {
    lock.release();
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now(); // gone meanwhile: the next mkdir will tell
  }
}

/** Alive: a process with this pid exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the build lock, a directory (mkdir is atomic) holding its owner's pid; waits while another live process
 * holds it, and takes over a lock whose owner is gone (a build that was killed).
 */
async function buildLock(lock: string, log: (line: string) => void): Promise<{ release(): void }> {
  const deadline = Date.now() + BUILD_DEADLINE_MS + 10 * 60_000;
  let told = 0;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return { release: () => rmSync(lock, { recursive: true, force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // just made, its pid not yet written: look again
    }
    const orphan = Number.isInteger(owner) && owner > 0 ? !alive(owner) : Date.now() - mtimeMs(lock) > 60_000;
    if (orphan) {
      log(`the Debian image's build lock was held by process ${owner || '(unknown)'}, which is gone: taking it over`);
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    assert.ok(Date.now() < deadline, `the Debian image's build lock ${lock} is still held by process ${owner}`);
    if (Date.now() - told >= 5 * 60_000) {
      log(`waiting for the Debian image that process ${owner} is building`);
      told = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Builds the image into the cache (tens of minutes: a tvisor guest runs debootstrap's second stage). */
async function build(want: string, log: (line: string) => void): Promise<DebianImage> {
  const { path, sshKey, record } = cachePaths();
  for (const f of [path, sshKey, `${sshKey}.pub`, record]) rmSync(f, { force: true });
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tvisor-test', '-f', sshKey]);
  assert.equal(keygen.status, 0, `ssh-keygen: ${keygen.stderr}`);
  log(`building the Debian ${DEFAULT_SUITE} image ${path} (not cached: this takes 15 to 40 minutes)`);
  const t0 = Date.now();
  // the build's own lines, for a failure's message (a test runner may show only the end of a long log)
  const recent: string[] = [];
  let overdue = false;
  const status = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [cliPath, 'image', 'build', '--distro', 'debian', '--output', path, '--ssh-key', `${sshKey}.pub`], { stdio: ['ignore', 'inherit', 'pipe'] });
    killOnExit(child);
    child.stderr.setEncoding('utf8').on('data', (d: string) => d.split('\n').filter(Boolean).forEach((l) => {
      recent.push(l);
      if (recent.length > 25) recent.shift();
      log(`build: ${l}`);
    }));
    const deadline = setTimeout(() => {
      overdue = true;
      child.kill('SIGTERM');
    }, BUILD_DEADLINE_MS);
    child.on('close', (code) => {
      clearTimeout(deadline);
      done(code);
    });
  });
  const seconds = Math.round((Date.now() - t0) / 1000);
  const why = overdue ? `did not finish within ${BUILD_DEADLINE_MS / 60_000} minutes` : `failed (status ${status}) after ${seconds} s`;
  assert.ok(status === 0 && !overdue, `tvisor image build --distro debian ${why}; its last lines:\n${recent.join('\n')}`);
  writeFileSync(record, JSON.stringify({ recipe: want, built: new Date().toISOString(), seconds }));
  log(`built the Debian image in ${seconds} s`);
  return { path, sshKey, builtSeconds: seconds };
}

/** Console text without carriage returns and terminal controls (bash's bracketed paste, ip's colours). */
export function stripTerminal(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g, '');
}

/**
 * A guest's serial console with a root shell on it: commands are typed, and each ends with a marker holding
 * its exit status (the marker as typed differs from the marker printed, so the echo never matches).
 */
export class GuestShell {
  out = '';
  private seq = 0;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
  }

  /** Waits until the console output from `from` on matches; fails with the console's end if the VM ends. */
  async waitFor(re: RegExp, ms: number, from = 0): Promise<RegExpExecArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) assert.fail(`the VM ended (status ${this.child.exitCode}) before ${re}:\n${this.out.slice(-3000)}`);
      if (Date.now() > end) assert.fail(`no ${re} on the console after ${ms / 1000} s:\n${this.out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Types `command` and returns what it printed and its status. */
  async run(command: string, ms = 300_000): Promise<{ status: number; output: string }> {
    const n = ++this.seq;
    const from = this.out.length;
    // after a background job (`cmd &`) the marker follows without `;`, which bash would refuse there
    this.child.stdin!.write(`${command}${/&\s*$/.test(command) ? ' ' : '; '}echo "@@end-${n}-$?-@@"\n`);
    const m = await this.waitFor(new RegExp(`@@end-${n}-(\\d+)-@@`), ms, from);
    const text = stripTerminal(this.out.slice(from, from + m.index));
    // drop the echoed command line (the first line)
    return { status: Number(m[1]), output: text.slice(text.indexOf('\n') + 1) };
  }

  /** As run, failing unless the status is 0. */
  async ok(command: string, ms?: number): Promise<string> {
    const r = await this.run(command, ms);
    assert.equal(r.status, 0, `'${command}' failed with status ${r.status}:\n${r.output}`);
    return r.output;
  }
}
