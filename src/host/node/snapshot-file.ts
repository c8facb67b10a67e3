// Snapshot files on Node (issue 15): what `tvisor run --save/--restore` and the daemon's VM threads write and
// read. The byte layout is core/snapshot/file.ts's; this module adds what only a host knows: the files the
// machine uses (recorded by identity, so a restore refuses a kernel rebuilt or a disk written since), copies of
// the writable overlays when the VM goes on running after the snapshot (the disk state that belongs with the
// saved RAM), writing through a temporary file, clones restored from those copies, and zlib for compressed RAM.
import { closeSync, fstatSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  decodeSnapshot, encodeSnapshot, SNAPSHOT_HEADER, SNAPSHOT_MAGIC, snapshotRecordLength, type SnapshotContents,
} from '../../core/snapshot/file.js';
import { SnapshotError } from '../../core/snapshot/state.js';
import type { Vm } from '../../core/machine/vm.js';
import type { RemoteHartState } from '../../core/snapshot/hart.js';
import { diskName, machineFiles, specFromMachine, type BlockDescription, type MachineDescription } from '../../hypervisor/machine.js';
import { DEFAULT_SCHEDULING } from '../../hypervisor/model.js';
import { parseVmSpec } from '../../hypervisor/spec.js';
import { fileChanged, fileIdentity, type FileIdentity } from './file-identity.js';
import { copyOverlay, DiskError } from './block-file.js';
import { checkConfined, FileRefused, openConfined } from './confined-open.js';
import { ApiError, badSnapshot, fileOutside, fileUnusable } from '../../hypervisor/errors.js';
import type { SnapshotSource } from '../../hypervisor/restore.js';

/** A snapshot that cannot be written where asked, whatever the host's state: the path holds another kind of file. */
export class SnapshotRefused extends Error {
  override name = 'SnapshotRefused';
}

/** The record a snapshot file carries beside the RAM (its `meta`). */
export interface SnapshotMeta {
  /** The machine the state belongs to: a restore builds exactly this one. */
  machine: MachineDescription;
  /** Every file the machine used, as it was when saved. */
  files: FileIdentity[];
  /** Vm.saveState(). */
  state: unknown;
  /**
   * Copies of the writable overlays, taken with the RAM (the VM went on running, so its own overlays moved
   * on): file names in the snapshot's directory. A restore gives the VM a fresh copy of each.
   */
  savedDisks?: SavedDisk[];
  /** The console output just before the snapshot (base64), so that a restored VM's console shows its screen. */
  console?: string;
  /** The daemon's scheduling settings of the VM, as defaults for a VM restored from it. */
  settings?: { weight: number; cap: number };
}

export interface SavedDisk {
  /** The disk's guest name (vda, vdb, …). */
  disk: string;
  /** The copy's file name, in the directory of the snapshot file. */
  file: string;
  identity: FileIdentity;
}

/** What writeSnapshot() is given besides the VM. */
export interface SnapshotWrite {
  machine: MachineDescription;
  /** Flushes the machine's disks (MachineDevices.flushDisks). */
  flushDisks(): void;
  /** Copy the writable overlays beside the snapshot (the VM will run on); default false (it has ended). */
  keepOverlays?: boolean;
  console?: Uint8Array;
  settings?: { weight: number; cap: number };
  /** Directories the snapshot must be written beneath (the daemon's); absent: anywhere. */
  allowedDirs?: readonly string[];
  /** Compress the RAM (raw DEFLATE, zlib's fastest level): a quarter of the size, some 0.3 s more to write. */
  compress?: boolean;
  /** The harts that run in other threads, saved there (Vm.saveState). */
  remote?: RemoteHartState[];
}

/** Raw DEFLATE at zlib's fastest level: the guest's RAM (code, page cache) shrinks about 4x. */
const deflate = (b: Uint8Array) => new Uint8Array(deflateRawSync(b, { level: 1 }));
/** Never more than the snapshot's pages (zlib stops there: a stream that would be longer is refused). */
const inflate = (b: Uint8Array, length: number) => new Uint8Array(inflateRawSync(b, { maxOutputLength: Math.max(1, length) }));

/** The name of the copy of disk `disk`'s overlay that belongs with the snapshot at `path`. */
export function savedDiskPath(path: string, disk: string): string {
  return `${path}.${disk}.overlay`;
}

/**
 * Saves `vm` (stopped, or paused between slices) to `path`: its state first (so a machine that cannot be saved
 * writes nothing), then its disks flushed, the overlay copies, and the snapshot written through a temporary
 * file. Throws SnapshotError (the machine cannot be saved) or Error (the host could not write).
 */
export function writeSnapshot(path: string, vm: Vm, w: SnapshotWrite): { bytes: number; savedDisks: string[] } {
  const state = vm.saveState(w.remote);
  const copies = w.keepOverlays
    ? blocks(w.machine).flatMap((d, i) => (d.overlay === undefined ? [] : [{ disk: diskName(i), from: d.overlay, to: savedDiskPath(path, diskName(i)) }]))
    : [];
  // nothing but an earlier snapshot (or its overlay copy) is ever replaced
  replaceable(path, SNAPSHOT_MAGIC, 'a tvisor snapshot', w.allowedDirs);
  for (const c of copies) replaceable(c.to, 'TVOVL001', 'a tvisor overlay', w.allowedDirs);
  w.flushDisks();
  const savedDisks: SavedDisk[] = [];
  for (const { disk, from, to } of copies) {
    copyOverlay(from, to, { replace: true });
    savedDisks.push({ disk, file: basename(to), identity: fileIdentity(to) });
  }
  // the files as they are now: a restore refuses them changed (the guest's view of a disk is in its RAM too)
  const meta: SnapshotMeta = { machine: w.machine, files: machineFiles(w.machine).map((f) => fileIdentity(f.path)), state };
  if (savedDisks.length > 0) meta.savedDisks = savedDisks;
  if (w.console && w.console.length > 0) meta.console = Buffer.from(w.console).toString('base64');
  if (w.settings) meta.settings = w.settings;
  const bytes = encodeSnapshot(meta, vm.ram, w.compress ? deflate : undefined);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return { bytes: bytes.length, savedDisks: savedDisks.map((s) => join(dirname(path), s.file)) };
}

/** Throws SnapshotRefused unless `path` is missing or a regular file starting with `magic` (`what`), beneath `allowedDirs`. */
function replaceable(path: string, magic: string, what: string, allowedDirs?: readonly string[]): void {
  let opened;
  try {
    const st = checkConfined(path, { label: 'snapshot', create: true, allowedDirs });
    if (st === null) return;
    opened = openConfined(path, { label: 'snapshot', allowedDirs });
  } catch (e) {
    if (e instanceof FileRefused) throw new SnapshotRefused(e.message);
    throw e;
  }
  try {
    const head = new Uint8Array(magic.length);
    const n = readSync(opened.fd, head, 0, head.length, 0);
    if (n !== head.length || new TextDecoder('latin1').decode(head) !== magic) {
      throw new SnapshotRefused(`${path} exists and is not ${what}; tvisor will not replace it: choose another path, or remove that file first`);
    }
  } finally {
    closeSync(opened.fd);
  }
}

function blocks(m: MachineDescription): BlockDescription[] {
  return m.devices.filter((d): d is BlockDescription => d.kind === 'block');
}

/**
 * Reads only the header and the record of the snapshot at `path` (not its RAM, nor its checksum: the VM thread
 * that restores it checks those): what the daemon needs to define a VM from it. Throws SnapshotError.
 */
export function readSnapshotMeta(path: string, allowedDirs?: readonly string[]): SnapshotMeta {
  const fd = openSnapshot(path, allowedDirs);
  try {
    const head = new Uint8Array(SNAPSHOT_HEADER);
    const length = snapshotRecordLength(head.subarray(0, readSync(fd, head, 0, SNAPSHOT_HEADER, 0)));
    if (length > 64 << 20) throw new SnapshotError(`not a usable snapshot: its machine record claims ${length} bytes`);
    const json = new Uint8Array(length);
    if (readSync(fd, json, 0, length, SNAPSHOT_HEADER) !== length) throw new SnapshotError('not a usable snapshot: it ends inside its machine record');
    let meta: unknown;
    try {
      meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
    } catch (e) {
      throw new SnapshotError(`not a usable snapshot: its machine record is not JSON (${(e as Error).message})`);
    }
    return checkMeta(meta);
  } finally {
    closeSync(fd);
  }
}

/** Reads and checks the whole snapshot at `path` (layout, checksum, record). Throws SnapshotError. */
export function readSnapshot(path: string, allowedDirs?: readonly string[]): { meta: SnapshotMeta; contents: SnapshotContents } {
  const fd = openSnapshot(path, allowedDirs);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(Number(fstatSync(fd).size));
    for (let o = 0; o < bytes.length;) {
      const n = readSync(fd, bytes, o, bytes.length - o, o);
      if (n === 0) {
        bytes = bytes.subarray(0, o); // shrank meanwhile: decodeSnapshot says it is truncated
        break;
      }
      o += n;
    }
  } catch (e) {
    throw new SnapshotError(`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    closeSync(fd);
  }
  const contents = decodeSnapshot(bytes, inflate);
  return { meta: checkMeta(contents.meta), contents };
}

/** Opens a snapshot to read: a regular file, confined to `allowedDirs` when given. Throws SnapshotError. */
function openSnapshot(path: string, allowedDirs?: readonly string[]): number {
  try {
    return openConfined(path, { label: 'snapshot', allowedDirs }).fd;
  } catch (e) {
    if (e instanceof FileRefused) throw new SnapshotError(e.kind === 'missing' ? `cannot read it (${e.detail})` : e.detail);
    throw new SnapshotError(`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The record's shape: enough that building the machine and checking its files cannot trip over it. */
function checkMeta(meta: unknown): SnapshotMeta {
  const bad = (why: string) => new SnapshotError(`not a usable snapshot: ${why}`);
  const o = meta as Partial<SnapshotMeta> | null;
  const m = o?.machine;
  if (!m || typeof m !== 'object' || typeof m.kernel !== 'string' || typeof m.cmdline !== 'string' || typeof m.name !== 'string' ||
    !Number.isInteger(m.memoryBytes) || !Number.isInteger(m.vcpus) || !Array.isArray(m.devices) ||
    m.devices.some((d) => typeof d !== 'object' || d === null || typeof (d as { kind?: unknown }).kind !== 'string') ||
    (m.initrd !== undefined && typeof m.initrd !== 'string') || (m.firmware !== undefined && typeof m.firmware !== 'string')) {
    throw bad('it describes no machine tvisor can build');
  }
  if (!Array.isArray(o!.files) || o!.files.some((f) => typeof f?.path !== 'string')) throw bad('it records none of the files its machine uses');
  const saved = o!.savedDisks;
  if (saved !== undefined && (!Array.isArray(saved) || saved.some((s) => typeof s?.disk !== 'string' || typeof s.file !== 'string' ||
    s.file.includes('/') || typeof s.identity?.path !== 'string'))) {
    throw bad('its list of saved disks is malformed');
  }
  if (o!.console !== undefined && typeof o!.console !== 'string') throw bad('its console record is malformed');
  return o as SnapshotMeta;
}

/**
 * Refuses (SnapshotError) when a file the machine uses is not the one it used when saved: a disk written since
 * would not match the guest's page cache, a kernel rebuilt would not match the code in RAM. `fresh` names files
 * made for this restore from the snapshot's saved disks, which have no earlier identity.
 */
export function checkSnapshotFiles(meta: SnapshotMeta, machine: MachineDescription, fresh: ReadonlySet<string> = new Set()): void {
  for (const f of machineFiles(machine)) {
    if (fresh.has(f.path)) continue;
    const was = meta.files.find((x) => x.path === f.path);
    if (!was) throw new SnapshotError(`not a usable snapshot: it does not record the ${f.what} ${f.path}`);
    const why = fileChanged(was);
    if (why) throw new SnapshotError(`the ${f.what} ${f.path} is not the file the VM was saved with: ${why}`);
  }
}

/**
 * The snapshot at `path` as the daemon restores VMs from it (VmManager.createFromSnapshot): its record read
 * and checked (every file its machine uses unchanged, but the overlays it saved copies of), and the making of
 * each new VM's overlays from those copies. Errors are the API's: bad_snapshot (422), or the file's.
 */
export function openSnapshotSource(path: string, allowedDirs?: readonly string[]): SnapshotSource {
  const refused = (e: unknown): never => {
    if (e instanceof SnapshotError) throw badSnapshot('snapshot', path, e.message);
    throw e;
  };
  let meta: SnapshotMeta;
  try {
    meta = readSnapshotMeta(path, allowedDirs);
  } catch (e) {
    return refused(e);
  }
  // a machine `tvisor run` saved may be larger than the daemon's VMs may be
  try {
    parseVmSpec(specFromMachine(meta.machine, 'restored', DEFAULT_SCHEDULING));
  } catch (e) {
    if (e instanceof ApiError) throw badSnapshot('snapshot', path, `its machine is not one this daemon runs (${e.message})`);
    throw e;
  }
  const saved = meta.savedDisks ?? [];
  // the overlays it saved copies of have moved on (the VM ran on): the copies stand for them
  const moved = new Set(blocks(meta.machine).flatMap((d, i) => (d.overlay !== undefined && saved.some((s) => s.disk === diskName(i)) ? [d.overlay] : [])));
  try {
    checkSnapshotFiles(meta, meta.machine, moved);
  } catch (e) {
    refused(e);
  }
  const dir = dirname(resolve(path));
  return {
    machine: meta.machine,
    ...(meta.settings ? { settings: meta.settings } : {}),
    savedDisks: saved.map((s) => s.disk),
    defaultOverlay: (name, disk) => `${resolve(path)}.${name}.${disk}`,
    clone: (name, overlays) => {
      const made: string[] = [];
      try {
        const devices = meta.machine.devices.map((d) => ({ ...d }));
        let i = 0;
        for (const d of devices) {
          if (d.kind !== 'block') continue;
          const disk = diskName(i++);
          const s = saved.find((x) => x.disk === disk);
          const to = overlays[disk];
          if (!s || to === undefined) continue;
          const from = join(dir, s.file);
          const why = fileChanged({ ...s.identity, path: from });
          if (why) throw badSnapshot('snapshot', path, `the copy of disk ${disk}'s overlay saved with it, ${from}, is not the one taken with it: ${why}`);
          if (checkConfined(to, { label: `overlays.${disk}`, create: true, allowedDirs }) !== null) {
            throw new ApiError('conflict', `overlays.${disk} ${to} exists already; tvisor never replaces a file: give another path, or remove that one first`);
          }
          copyOverlay(from, to);
          made.push(to);
          d.overlay = to;
        }
        return { machine: { ...meta.machine, name, devices }, made };
      } catch (e) {
        for (const f of made) rmSync(f, { force: true });
        if (e instanceof FileRefused) throw e.kind === 'outside' ? fileOutside(e.label, e.file, e.detail) : fileUnusable(e.label, e.file, e.detail);
        if (e instanceof DiskError) throw new ApiError('snapshot_failed', `making the new overlays: ${e.message}`);
        throw e;
      }
    },
    discard: (made) => {
      for (const f of made) rmSync(f, { force: true });
    },
  };
}
