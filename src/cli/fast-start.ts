// The fast start of `tvisor run` with the default guest (issue 15): the guest is booted once with
// tvisor.handshake on its command line, which makes its console session stop before the shell and wait for a
// line from the host (src/images/initramfs.ts). There the machine is saved into the image cache; every later
// run of the same machine resumes that snapshot instead of booting, and answers the guest's wait with the
// terminal's size and type and the time of day. The VM generation ID device makes each resumed guest reseed
// its random generator. A snapshot is keyed by the machine (images, memory, harts, devices, command line),
// the snapshot format and the code that saves and restores machine state, so any change makes a new one.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SNAPSHOT_FORMAT } from '../core/snapshot/file.js';
import type { MachineDescription } from '../hypervisor/machine.js';
import { HANDSHAKE_PARAM, HANDSHAKE_READY } from '../images/initramfs.js';

/** Fast-start snapshots kept in the cache (one per machine: memory size, harts, devices); the oldest go first. */
const KEEP = 4;

export { HANDSHAKE_PARAM };

/** The cache file of the fast-start snapshot of `machine`, under `cacheDir`/snapshots. */
export function fastStartPath(cacheDir: string, machine: MachineDescription): string {
  const key = createHash('sha256').update(JSON.stringify({ machine: { ...machine, name: '' }, format: SNAPSHOT_FORMAT, code: codeIdentity() })).digest('hex');
  return join(cacheDir, 'snapshots', `run-${key.slice(0, 24)}.snap`);
}

let code: string | null = null;

/**
 * A hash of the compiled machine code (src/core: harts, devices, their saved state): a snapshot taken by other
 * code is not trusted to mean the same. Computed once per process (a few hundred KiB of files).
 */
function codeIdentity(): string {
  if (code !== null) return code;
  const root = fileURLToPath(new URL('../core/', import.meta.url));
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.js') && !name.endsWith('.test.js')) h.update(name).update(readFileSync(p));
    }
  };
  walk(root);
  code = h.digest('hex');
  return code;
}

/** Makes room for a new fast-start snapshot: the directory exists, and the oldest beyond KEEP - 1 are removed. */
export function prepareFastStartDir(path: string): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  const old = readdirSync(dir)
    .filter((f) => f.startsWith('run-') && f.endsWith('.snap'))
    .map((f) => ({ f: join(dir, f), t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of old.slice(KEEP - 1)) rmSync(f, { force: true });
}

/** The host's answer to the guest's wait: "ROWS COLS TERM EPOCH" (see src/images/initramfs.ts). */
export function handshakeLine(t: { isTTY: boolean; rows?: number; columns?: number; term?: string }, nowMs: number): Uint8Array {
  const tty = t.isTTY && t.rows && t.columns;
  const term = t.isTTY && t.term && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(t.term) ? t.term : 'dumb';
  return new TextEncoder().encode(`${tty ? t.rows : 24} ${tty ? t.columns : 80} ${term} ${Math.floor(nowMs / 1000)}\n`);
}

/**
 * Console output on its way to the terminal, with the guest's handshake markers taken out: `ready` is called
 * for each (the first boot's, and one after each guest reboot). Bytes that may start the marker are held until
 * it is clear whether they do.
 */
export class HandshakeWatch {
  private held = 0;
  private readonly mark = new TextEncoder().encode(HANDSHAKE_READY);

  constructor(private readonly out: (bytes: Uint8Array) => void, private readonly ready: () => void) {}

  write(bytes: Uint8Array): void {
    let from = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === this.mark[this.held]) {
        // the marker's bytes are held, not written; those before it in this chunk go out first
        if (this.held === 0 && i > from) this.out(bytes.subarray(from, i));
        this.held++;
        from = i + 1;
        if (this.held === this.mark.length) {
          this.held = 0;
          this.ready();
        }
      } else if (this.held > 0) {
        // not the marker after all: what was held goes out (its first byte, ESC, starts no suffix of it), and
        // this byte is looked at again
        this.out(this.mark.subarray(0, this.held));
        this.held = 0;
        from = i;
        i--;
      }
    }
    if (this.held === 0 && from < bytes.length) this.out(bytes.subarray(from));
  }

  /** Writes out what is held (the output ended in the middle of what could have been a marker). */
  flush(): void {
    if (this.held > 0) this.out(this.mark.subarray(0, this.held));
    this.held = 0;
  }
}
