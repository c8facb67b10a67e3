// Shared helpers for tests that boot the default Debian guest under `tvisor run`: the guest from the image
// cache, an initramfs with an appended /autorun.sh, running the CLI as a child process, and checking that
// the autorun script finished.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './toolchain.js';
import { killOnExit } from './children.js';
import { ensureDefaultGuest, appendAutorun, AUTORUN_EXIT_PREFIX, type GuestImage } from '../../src/images/index.js';

export interface GuestFixture {
  guest: GuestImage;
  /** A temporary directory removed when the process exits. */
  work: string;
  /** The default initramfs followed by a cpio holding /autorun.sh; returns its path. */
  initrdWith(script: string, name: string): string;
}

export async function guestFixture(prefix: string): Promise<GuestFixture> {
  const guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  const work = mkdtempSync(join(tmpdir(), `tvisor-${prefix}-`));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  return {
    guest,
    work,
    initrdWith(script, name) {
      const out = join(work, `${name}.cpio`);
      writeFileSync(out, appendAutorun(readFileSync(guest.initrd), script));
      return out;
    },
  };
}

export interface RunResult {
  status: number | null;
  out: string;
  err: string;
}

/**
 * Starts `tvisor run ARGS`; `done` resolves when it exits (killed after timeoutMs: a deadline for a hung guest,
 * generous because a boot takes minutes on a loaded machine).
 */
export function startGuest(args: string[], timeoutMs = 600_000, stdin: 'ignore' | 'pipe' = 'ignore', env?: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [cliPath, 'run', ...args], { stdio: [stdin, 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  killOnExit(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<RunResult>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out, err });
    });
  });
  return { child, done };
}

/** `env`: variables set (or replaced) for the child on top of this process's environment. */
export function runGuest(args: string[], timeoutMs = 600_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return startGuest(args, timeoutMs, 'ignore', env).done;
}

/**
 * Waits until something listens on 127.0.0.1:`port` (a LISTEN entry in /proc/net/tcp: looking does not
 * connect, so a socket-listen VM does not take the look for its peer): true then, false as soon as `owner`
 * has exited (its output says why); throws after `ms`.
 */
export async function waitForListener(port: number, owner: ChildProcess, ms = 300_000): Promise<boolean> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const end = Date.now() + ms;
  for (;;) {
    const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    if (rows.some((f) => f[1] === local && f[3] === '0A')) return true;
    if (owner.exitCode !== null || owner.signalCode !== null) return false;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function assertRan(r: RunResult, what: string): void {
  const tail = `\n--- guest console (last 3000 chars) ---\n${r.out.slice(-3000)}\n--- stderr ---\n${r.err}`;
  assert.equal(r.status, 0, `${what}: tvisor run exited with ${r.status}${tail}`);
  assert.ok(r.out.includes(`${AUTORUN_EXIT_PREFIX}0`), `${what}: the autorun script did not finish with status 0${tail}`);
}
