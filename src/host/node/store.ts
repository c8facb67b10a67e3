// The daemon's state directory: one JSON file per VM definition, replaced atomically so a crash or power loss
// leaves either the old or the new definition, never a torn one; and a lock so only one daemon uses the directory.
//
// Layout of the directory:
//   vm-<id>.json                 one VM: {"format": 1, ...StoredVm}
//   .vm-<id>.json.<pid>-<n>.tmp  a save in progress; one left behind by a crash never held the committed
//                                definition (the rename did not happen), so load() ignores and removes it
//   daemon.lock                  "<pid>\n" of the daemon using the directory
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { acquirePidLock, errCode, fsyncDir, PidLockError, releasePidLock } from './pid-lock.js';
import type { DesiredState, StoredVm } from '../../hypervisor/stored-vm.js';
import { ApiError } from '../../hypervisor/errors.js';
import { parseVmSpec, VM_ID_PATTERN } from '../../hypervisor/spec.js';
import { VM_STATES, type VmSpec, type VmState } from '../../hypervisor/model.js';

const DESIRED: readonly DesiredState[] = ['running', 'paused', 'stopped'];

/** A state directory that cannot be used; the message says what to do. */
export class StoreError extends Error {
  override name = 'StoreError';
}

export interface VmStoreOptions {
  /** Source of candidate ids (8 lowercase hex digits); tests use it to force collisions. */
  randomId?: () => string;
}

const FORMAT = 1;
const LOCK = 'daemon.lock';
const VM_FILE = /^vm-(.*)\.json$/;
const TEMP_FILE = /^\.vm-.*\.tmp$/;
const ID_RE = new RegExp(VM_ID_PATTERN);

/** Stores open in this process, by the directory's real path: a second one is refused like another daemon. */
const held = new Map<string, VmStore>();
let exitHooked = false;
let unique = 0;

export class VmStore {
  /** Ids on disk or handed out by newId(), so no two VMs ever share one. */
  private readonly ids = new Set<string>();
  private closed = false;

  private constructor(
    /** The state directory (its real path). */
    readonly dir: string,
    private readonly randomId: () => string,
  ) {}

  /** Creates the directory if needed and locks it. Throws StoreError if another daemon uses it. */
  static open(dir: string, options: VmStoreOptions = {}): VmStore {
    let real: string;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      real = fs.realpathSync(dir);
    } catch (e) {
      throw new StoreError(`state directory ${dir}: cannot create it (${errCode(e)}); choose another with write access`);
    }
    if (held.has(real)) throw new StoreError(`state directory ${dir}: already in use by this process`);
    const store = new VmStore(real, options.randomId ?? (() => randomBytes(4).toString('hex')));
    acquireLock(real);
    held.set(real, store);
    hookExit();
    return store;
  }

  /**
   * Reads every definition. Files that cannot be read or are not valid definitions are reported in `problems`
   * and left on disk untouched (the user may repair them); leftover temp files of interrupted saves are removed.
   * VMs come oldest first.
   */
  load(): { vms: StoredVm[]; problems: string[] } {
    this.checkOpen();
    const vms: StoredVm[] = [];
    const problems: string[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      throw new StoreError(`state directory ${this.dir}: cannot list it (${errCode(e)})`);
    }
    for (const name of names.sort()) {
      const file = path.join(this.dir, name);
      if (TEMP_FILE.test(name)) {
        fs.rmSync(file, { force: true }); // we hold the lock, so no save is in progress
        continue;
      }
      const m = VM_FILE.exec(name);
      if (!m) continue;
      const id = m[1];
      // reserved even when unusable, so a new VM never overwrites a file the user may still repair
      this.ids.add(id);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        problems.push(`${file}: cannot read it (${errCode(e)}); skipped`);
        continue;
      }
      const why = parseStored(text, id);
      if (typeof why === 'string') problems.push(`${file}: ${why}; skipped and left in place`);
      else vms.push(why);
    }
    vms.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1));
    return { vms, problems };
  }

  /** A fresh id, unused by any file in the directory and by any earlier newId(). */
  newId(): string {
    this.checkOpen();
    for (let attempt = 0; attempt < 1000; attempt++) {
      const id = this.randomId();
      if (!ID_RE.test(id)) throw new Error(`randomId gave ${JSON.stringify(id)}, not ${VM_ID_PATTERN}`);
      if (this.ids.has(id) || fs.existsSync(this.file(id))) continue;
      this.ids.add(id);
      return id;
    }
    throw new StoreError(`state directory ${this.dir}: found no unused VM id; the random source is broken`);
  }

  /**
   * Writes the definition durably: a temp file in the same directory, fsynced, renamed over the old file, then
   * the directory fsynced so the rename itself survives a power loss. On failure the old file is intact.
   */
  save(vm: StoredVm): void {
    this.checkOpen();
    if (!ID_RE.test(vm.id)) throw new Error(`VM id ${JSON.stringify(vm.id)} is not ${VM_ID_PATTERN}`);
    const file = this.file(vm.id);
    const tmp = path.join(this.dir, `.vm-${vm.id}.json.${process.pid}-${unique++}.tmp`);
    try {
      const text = `${JSON.stringify({ format: FORMAT, ...vm }, null, 2)}\n`;
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        fs.writeFileSync(fd, text);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw new StoreError(`state directory ${this.dir}: cannot save VM ${vm.id} (${errCode(e)}); its previous definition is unchanged`);
    }
    this.ids.add(vm.id);
    fsyncDir(this.dir);
  }

  /** Deletes the definition durably; false if there was none. */
  remove(id: string): boolean {
    this.checkOpen();
    if (!ID_RE.test(id)) return false;
    try {
      fs.unlinkSync(this.file(id));
    } catch (e) {
      if (errCode(e) === 'ENOENT') return false;
      throw new StoreError(`state directory ${this.dir}: cannot remove VM ${id} (${errCode(e)})`);
    }
    this.ids.delete(id);
    fsyncDir(this.dir);
    return true;
  }

  /** Releases the lock; the store cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (held.get(this.dir) === this) held.delete(this.dir);
    releaseLock(this.dir);
  }

  private file(id: string): string {
    return path.join(this.dir, `vm-${id}.json`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('VmStore used after close');
  }
}

/** The stored VM in `text`, or why it is not one. */
function parseStored(text: string, fileId: string): StoredVm | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.format !== FORMAT) return `format ${JSON.stringify(o.format)} is not ${FORMAT} (written by another tvisor version?)`;
  if (o.id !== fileId || !ID_RE.test(fileId)) return `id ${JSON.stringify(o.id)} does not match the file name`;
  let spec: VmSpec;
  try {
    spec = parseVmSpec(o.spec);
  } catch (e) {
    if (e instanceof ApiError) return `spec: ${e.message}`;
    throw e;
  }
  if (typeof o.balloon_mib !== 'number' || !Number.isInteger(o.balloon_mib) || o.balloon_mib < 0) return 'balloon_mib is not a whole number';
  if (!DESIRED.includes(o.desired as DesiredState)) return `desired ${JSON.stringify(o.desired)} is not one of ${DESIRED.join(', ')}`;
  if (!VM_STATES.includes(o.state as VmState)) return `state ${JSON.stringify(o.state)} is not one of ${VM_STATES.join(', ')}`;
  if (o.reason !== undefined && typeof o.reason !== 'string') return 'reason is not a string';
  if (typeof o.created_at !== 'string' || Number.isNaN(Date.parse(o.created_at))) return 'created_at is not a date';
  const vm: StoredVm = {
    id: fileId,
    spec,
    balloon_mib: o.balloon_mib,
    desired: o.desired as DesiredState,
    state: o.state as VmState,
    created_at: o.created_at,
  };
  if (typeof o.reason === 'string') vm.reason = o.reason;
  if (o.restore !== undefined) {
    const r = o.restore as Partial<NonNullable<StoredVm['restore']>> | null;
    if (typeof r !== 'object' || r === null || typeof r.snapshot !== 'string' || typeof r.machine !== 'object' || r.machine === null ||
      !Array.isArray(r.machine.devices) || !Array.isArray(r.fresh) || r.fresh.some((f) => typeof f !== 'string')) {
      return 'restore is not a snapshot to restore';
    }
    vm.restore = r as NonNullable<StoredVm['restore']>;
  }
  return vm;
}

// ---- the directory lock ----
// One daemon per state directory, through a pid lock file (src/host/node/pid-lock.ts): a lock whose pid is dead,
// or is our own pid without this process holding the store (a previous daemon with the same pid, common for
// pid 1 in containers), is stale and taken over.

function acquireLock(dir: string): void {
  const lockPath = path.join(dir, LOCK);
  let holder: number | null;
  try {
    holder = acquirePidLock(lockPath, `${process.pid}\n`);
  } catch (e) {
    if (!(e instanceof PidLockError)) throw e;
    if (e.step === 'create') throw new StoreError(`state directory ${dir}: cannot create its lock (${e.detail}); check its permissions`);
    if (e.step === 'stale') throw new StoreError(`state directory ${dir}: cannot remove the stale lock ${lockPath} (${e.detail})`);
    if (e.step === 'busy') throw new StoreError(`state directory ${dir}: could not take the lock ${lockPath} (busy); try again`);
    throw new StoreError(`state directory ${dir}: cannot create the lock ${lockPath} (${e.detail})`);
  }
  if (holder !== null) {
    throw new StoreError(`state directory ${dir}: in use by another tvisor daemon (pid ${holder}); stop it or choose another state directory`);
  }
}

function releaseLock(dir: string): void {
  releasePidLock(path.join(dir, LOCK));
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const store of [...held.values()]) store.close();
  });
}

// ---- helpers ----


