// Snapshots in the tab: a VM saved to a file of the browser's origin private file system (/opfs/NAME), in the
// daemon's snapshot format (core/snapshot/file.ts) with a record of its own, and restored from it — so that a
// page can resume a guest saved at its shell instead of booting it. The worker writes and reads the file
// (synchronous access handles: WorkerSnapshots); the page reads its record before a VM is defined from it
// (TabSnapshots, for the VM manager's openSnapshot). The files a snapshot's machine boots from are recorded by
// size and CRC-32: a page serving other files refuses it. VMs with disks cannot be saved here yet.
import { crc32, decodeSnapshot, encodeSnapshot, snapshotRecordLength, SNAPSHOT_HEADER } from '../../core/snapshot/file.js';
import { SnapshotError } from '../../core/snapshot/state.js';
import type { Vm } from '../../core/machine/vm.js';
import { machineFiles, type MachineDescription } from '../../hypervisor/machine.js';
import type { SavedGuest, SnapshotFiles, SnapshotRequest } from '../../hypervisor/vm-slot.js';
import type { SnapshotSource } from '../../hypervisor/restore.js';
import { badSnapshot } from '../../hypervisor/errors.js';
import type { SyncHandle } from './disks.js';

/** Snapshot and overlay paths in the tab name files of the origin private file system. */
export const OPFS_PREFIX = '/opfs/';

/** The OPFS file name of `path`, or a SnapshotError saying what a tab's snapshot path is. */
export function opfsName(path: string): string {
  const name = path.startsWith(OPFS_PREFIX) ? path.slice(OPFS_PREFIX.length) : '';
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TabSnapshotRefused(`${path}: a file here is one of this browser's storage, ${OPFS_PREFIX}NAME (letters, digits, . _ -)`);
  return name;
}

/** A snapshot the tab refuses to write whatever its state (SnapshotFiles.refused). */
export class TabSnapshotRefused extends Error {
  override name = 'TabSnapshotRefused';
}

/** A file the machine boots from, as it was when saved. */
export interface TabFile {
  path: string;
  size: number;
  crc: number;
}

/** The record a tab's snapshot carries beside the RAM. */
export interface TabSnapshotMeta {
  tab: 1;
  machine: MachineDescription;
  files: TabFile[];
  state: unknown;
  /** The console output just before the snapshot, base64. */
  console?: string;
  settings?: { weight: number; cap: number };
}

/** The page's files with their CRC-32, computed once per file (they never change while the page lives). */
export class FileDigests {
  private readonly crcs = new Map<string, number>();

  constructor(private readonly files: ReadonlyMap<string, Uint8Array>) {}

  record(path: string): TabFile {
    const bytes = this.files.get(path);
    if (!bytes) throw new SnapshotError(`this page has no file ${path}`);
    let crc = this.crcs.get(path);
    if (crc === undefined) this.crcs.set(path, (crc = crc32(bytes)));
    return { path, size: bytes.length, crc };
  }

  /** Throws SnapshotError unless every file of the saved machine is here as it was. */
  check(meta: TabSnapshotMeta): void {
    for (const f of meta.files) {
      const now = this.files.has(f.path) ? this.record(f.path) : null;
      if (!now) throw new SnapshotError(`it boots from ${f.path}, which this page does not have`);
      if (now.size !== f.size || now.crc !== f.crc) throw new SnapshotError(`${f.path} is not the file it was saved with (this page serves another)`);
    }
  }
}

const toBase64 = (b: Uint8Array) => {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};
const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** The record's shape, enough to build its machine. */
function checkMeta(meta: unknown): TabSnapshotMeta {
  const o = meta as Partial<TabSnapshotMeta> | null;
  if (o?.tab !== 1 || typeof o.machine?.kernel !== 'string' || !Array.isArray(o.machine.devices) || !Array.isArray(o.files) ||
    o.files.some((f) => typeof f?.path !== 'string' || !Number.isInteger(f.size) || !Number.isInteger(f.crc)) ||
    (o.console !== undefined && typeof o.console !== 'string')) {
    throw new SnapshotError('not a snapshot this page wrote (a tvisor snapshot from a daemon or tvisor run cannot be restored in a tab)');
  }
  return o as TabSnapshotMeta;
}

/**
 * The worker's side: writes and reads snapshot files through synchronous access handles that `handle(path)`
 * gives (opened before the message that needs them: OPFS opens asynchronously).
 */
export class WorkerSnapshots implements SnapshotFiles {
  constructor(private readonly digests: FileDigests, private readonly handle: (path: string) => SyncHandle) {}

  write(path: string, vm: Vm, w: SnapshotRequest): { bytes: number; savedDisks: string[] } {
    opfsName(path);
    if (w.machine.devices.some((d) => d.kind === 'block')) throw new TabSnapshotRefused('a VM with disks cannot be saved in a browser tab yet');
    const meta: TabSnapshotMeta = {
      tab: 1, machine: w.machine, files: machineFiles(w.machine).map((f) => this.digests.record(f.path)), state: vm.saveState(w.remote),
      settings: w.settings,
    };
    if (w.console.length > 0) meta.console = toBase64(w.console);
    const bytes = encodeSnapshot(meta, vm.ram);
    const h = this.handle(path);
    try {
      h.truncate(0);
      if (h.write(bytes, { at: 0 }) !== bytes.length) throw new Error(`${path}: short write (is the browser's storage full?)`);
      h.flush();
    } finally {
      h.close();
    }
    return { bytes: bytes.length, savedDisks: [] };
  }

  read(path: string, machine: MachineDescription): SavedGuest {
    const h = this.handle(path);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(h.getSize());
      h.read(bytes, { at: 0 });
    } finally {
      h.close();
    }
    const contents = decodeSnapshot(bytes);
    const meta = checkMeta(contents.meta);
    if (meta.machine.memoryBytes !== machine.memoryBytes || meta.machine.vcpus !== machine.vcpus) throw new SnapshotError('its machine is not the one being built');
    this.digests.check(meta);
    return { contents, state: meta.state, console: meta.console ? fromBase64(meta.console) : undefined };
  }

  refused(e: unknown): boolean {
    return e instanceof TabSnapshotRefused;
  }
}

/** The page's side: the records of snapshot files, read before a VM is defined from one (the manager reads synchronously). */
export class TabSnapshots {
  private readonly sources = new Map<string, SnapshotSource>();

  constructor(private readonly digests: FileDigests) {}

  private static async file(path: string): Promise<File | null> {
    const dir = await navigator.storage.getDirectory();
    try {
      return await (await dir.getFileHandle(opfsName(path))).getFile();
    } catch (e) {
      if ((e as DOMException).name === 'NotFoundError') return null;
      throw e;
    }
  }

  /** Whether a snapshot file is there. */
  static async exists(path: string): Promise<boolean> {
    return (await TabSnapshots.file(path).catch(() => null)) !== null;
  }

  /** Reads and checks the record of the snapshot at `path`; throws the API's bad_snapshot. */
  async prepare(path: string): Promise<void> {
    const refuse = (why: string): never => {
      throw badSnapshot('snapshot', path, why);
    };
    let file: File | null = null;
    try {
      file = await TabSnapshots.file(path);
    } catch (e) {
      refuse((e as Error).message);
    }
    if (!file) return refuse('there is no such file in this browser\'s storage');
    try {
      const head = new Uint8Array(await file.slice(0, SNAPSHOT_HEADER).arrayBuffer());
      const length = snapshotRecordLength(head);
      const record = await file.slice(SNAPSHOT_HEADER, SNAPSHOT_HEADER + length).text();
      const meta = checkMeta(JSON.parse(record));
      this.digests.check(meta);
      this.sources.set(path, {
        machine: meta.machine,
        ...(meta.settings ? { settings: meta.settings } : {}),
        savedDisks: [],
        defaultOverlay: () => '',
        clone: (name) => ({ machine: { ...meta.machine, name }, made: [] }),
        discard: () => {},
      });
    } catch (e) {
      refuse(e instanceof SyntaxError ? 'its record is not JSON' : (e as Error).message);
    }
  }

  /** The source prepare() read (the manager's openSnapshot). */
  source(path: string): SnapshotSource {
    const s = this.sources.get(path);
    if (!s) throw badSnapshot('snapshot', path, 'it was not read first (TabSnapshots.prepare)');
    return s;
  }
}
