// The VM thread's logic, host-neutral (a Node worker of the daemon, host/node/vm-thread.ts, and a browser's
// Web Worker, host/browser/vm-worker.ts, run the same): holds the VMs of one thread (one, or several when `serve --vms-per-thread`
// packs them), builds each machine and its devices from a VmThreadConfig, runs the time slices the manager's
// scheduler grants, and relays console output, network frames and wake-ups. Messages carry the VM's channel
// number (protocol.ts ToHost/FromHost). An error in one VM ends that VM as crashed, not its neighbours; only
// the death of the thread itself takes all of its VMs. What only the host can do (read boot images and
// snapshot files, open disks, post messages, schedule callbacks) it gives in a VmSlotHost.
import { Vm, type Firmware } from '../core/machine/vm.js';
import { RAM_BASE } from '../core/machine/board.js';
import type { BootImage } from '../core/machine/boot-file.js';
import type { JitMode } from '../core/jit/mode.js';
import type { RemoteHartState } from '../core/snapshot/hart.js';
import type { DeviceCounters, FromHost, FromVm, ToHost, ToVm, VmThreadConfig } from './protocol.js';
import { applyLimiterConfig } from './rate-limiter.js';
import { epochClock, monotonicClock, type Clock } from '../core/host/clock.js';
import { SmpLink } from '../core/machine/smp.js';
import { ConsoleBatcher } from './console-batch.js';
import { UART_LINE_BACKLOG } from '../core/devices/uart16550.js';
import { restoreRam, type SnapshotContents } from '../core/snapshot/file.js';
import { nonzeroTouched, packPages, unpackPages } from '../core/snapshot/pages.js';
import { SnapshotError } from '../core/snapshot/state.js';
import type { DeviceOptions, MachineDevices } from './devices.js';
import type { MachineDescription } from './machine.js';

/** Why a VM with flash is neither saved nor moved: its banks are files of their own, not in the snapshot. */
const NO_FLASH_SAVES = 'a VM with firmware in flash cannot be snapshotted or migrated yet';

/** Console output a snapshot keeps (a screen or two, with escape sequences). */
const RECENT_CONSOLE = 16 * 1024;

/** Input is acknowledged (the client may send more) once the UART holds no more than this, unread. */
const INPUT_ROOM_MARK = UART_LINE_BACKLOG / 2;

/** Atomics.waitAsync (ES2024; in Node since 16 and in browsers' workers), which ES2022's types lack. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

/** What the host of a VM thread gives it. */
export interface VmSlotHost {
  /** How this thread's harts translate guest code (serve --jit or $TVISOR_JIT, for every VM of the daemon). */
  jit: JitMode;
  /** Posts a message to the manager; `transfer`: buffers handed over rather than copied. */
  post(m: FromHost, transfer?: ArrayBuffer[]): void;
  /** The machine's kernel, initrd and firmware, read now (at boot, and again at every guest reboot). */
  loadImages(cfg: VmThreadConfig): { kernel: BootImage; initrd?: BootImage; firmware?: Firmware };
  /**
   * The machine's flash banks (MachineDescription.flash): bank 0's image, and bank 1 on its file, written back
   * as it changes; `close` lets the file go. Absent: this host has no flash (a VM with flash fails to start).
   */
  loadFlash?(cfg: VmThreadConfig): FlashBanks;
  /** The machine's devices with the host's backends (devices.ts buildDevices given the host's DeviceHost). */
  buildDevices(m: MachineDescription, o: DeviceOptions): MachineDevices;
  /** `n` random bytes, for the guest's entropy (SBI, device tree seed). */
  random(n: number): Uint8Array;
  /** Runs `fn` once the current message is handled (setImmediate). */
  soon(fn: () => void): void;
  /** Runs `fn` after `ms` (setTimeout). */
  later(fn: () => void, ms: number): void;
  /** Snapshot files; absent: snapshots and restores fail with "snapshots are not supported by this host". */
  snapshots?: SnapshotFiles;
  /** A full garbage collection, if the host has one (serve gives its Node workers `gc()`). */
  gc?(): void;
  /**
   * What the host must do before a message can be handled, when it is asynchronous (a user-mode NIC's passt,
   * a browser's OPFS files): a promise, or undefined for nothing. Messages after it wait their turn; one that
   * rejects is not handled (an init answers init-error with its message).
   */
  prepare?(m: ToHost): Promise<void> | undefined;
}

/** A host's snapshot files (Node: host/node/snapshot-file.ts). */
export interface SnapshotFiles {
  /**
   * Reads and checks the snapshot at `path` (beneath `allowedDirs` when given), and that every file `machine`
   * uses is the one it was saved with, but those in `fresh` (readSnapshot, checkSnapshotFiles). Throws
   * SnapshotError for a snapshot it refuses.
   */
  read(path: string, machine: MachineDescription, fresh: ReadonlySet<string>, allowedDirs?: readonly string[]): SavedGuest;
  /** Saves `vm` (parked between slices) to `path` (writeSnapshot); throws SnapshotError, or the host's error. */
  write(path: string, vm: Vm, w: SnapshotRequest): { bytes: number; savedDisks: string[] };
  /** Whether `e`, thrown by write(), refuses the path whatever the host's state (SnapshotRefused). */
  refused(e: unknown): boolean;
}

/** Flash banks as a host gives them to a machine (VmConfig.flash), with the variable store's file to close. */
export interface FlashBanks {
  code: Uint8Array;
  vars?: { storage: Uint8Array; written(offset: number, length: number): void };
  close(): void;
}

/** A guest as a snapshot file holds it. */
export interface SavedGuest {
  /** Its RAM. */
  contents: SnapshotContents;
  /** Vm.saveState(). */
  state: unknown;
  /** The console output just before the snapshot, so that a restored VM's console shows its screen. */
  console?: Uint8Array;
}

/** What a snapshot of a VM thread's VM records besides the VM (host/node/snapshot-file.ts SnapshotWrite). */
export interface SnapshotRequest {
  machine: MachineDescription;
  /** Flushes the machine's disks (MachineDevices.flushDisks). */
  flushDisks(): void;
  /** Copy the writable overlays beside the snapshot (the VM runs on). */
  keepOverlays: boolean;
  console: Uint8Array;
  settings: { weight: number; cap: number };
  /** Directories the snapshot must be written beneath (the daemon's). */
  allowedDirs?: readonly string[];
  compress?: boolean;
  /** The harts that run in other threads, saved there (Vm.saveState). */
  remote?: RemoteHartState[];
}

/** What a host without snapshot files answers. */
const NO_SNAPSHOTS = 'snapshots are not supported by this host';

/** One VM of this thread and everything it holds. */
class VmSlot {
  vm: Vm | null = null;
  /** The machine's devices (devices.ts), with their rate limiters to be reconfigured live. */
  private devices: MachineDevices | null = null;
  /** The machine's flash banks' files, if it has flash (the variable store's file is closed with the VM). */
  private flash: Pick<FlashBanks, 'close'> | null = null;
  /** Where each NIC takes the frames the switch delivers (set by the device). */
  private readonly receivers: ((f: Uint8Array) => void)[] = [];
  private idle = false;
  /** The VM's clock; rate limiters run on it too, so their times agree with the devices'. With harts in other
   *  threads it counts from an epoch they share (see epochClock). */
  private clock: Clock = monotonicClock();
  private link: SmpLink | null = null;
  private epochMs = 0;
  /** What the VM was built from: a snapshot of it records this. */
  private machine: MachineDescription | null = null;
  private allowedDirs: string[] | undefined;
  stopped = false;
  /** Console output on its way to the manager: batched, and bounded by the manager's acks. */
  private readonly out: ConsoleBatcher;
  /**
   * The last RECENT_CONSOLE bytes the guest wrote, which a snapshot keeps so that a restored console shows its
   * screen: a ring, `recentAt` the next byte's place, `recentFull` once it wrapped.
   */
  private readonly recent = new Uint8Array(RECENT_CONSOLE);
  private recentAt = 0;
  private recentFull = false;
  /** Input messages taken into the UART whose 'input-ack' waits for the guest to read (flow control). */
  private readonly inputAcks: { bytes: number; dropped: number }[] = [];
  /** Frames handed to each NIC since the last 'frame-ack' (acks go out once per turn of the event loop). */
  private readonly frameAcks = new Map<number, number>();

  /**
   * `post` sends to the manager on this VM's channel; `released` is told of the decoded pages the VM let go of
   * (VmThreadMain collects them).
   */
  constructor(
    private readonly host: VmSlotHost,
    private readonly post: (m: FromVm, transfer?: ArrayBuffer[]) => void,
    private readonly released: (pages: number) => void,
  ) {
    this.out = new ConsoleBatcher({
      post: (bytes, dropped) => post(dropped > 0 ? { t: 'console', bytes, dropped } : { t: 'console', bytes }, [bytes.buffer as ArrayBuffer]),
      later: (fn, ms) => host.later(fn, ms),
    });
  }

  /** Output of the guest's console (the UART, or a virtio console): to the manager, and into `recent`. */
  private console(bytes: Uint8Array): void {
    this.out.write(bytes);
    for (let i = Math.max(0, bytes.length - RECENT_CONSOLE); i < bytes.length;) {
      const n = Math.min(bytes.length - i, RECENT_CONSOLE - this.recentAt);
      this.recent.set(bytes.subarray(i, i + n), this.recentAt);
      i += n;
      this.recentAt += n;
      if (this.recentAt === RECENT_CONSOLE) {
        this.recentAt = 0;
        this.recentFull = true;
      }
    }
  }

  /** The ring's contents, oldest first. */
  private recentConsole(): Uint8Array {
    if (!this.recentFull) return this.recent.slice(0, this.recentAt);
    const out = new Uint8Array(RECENT_CONSOLE);
    out.set(this.recent.subarray(this.recentAt), 0);
    out.set(this.recent.subarray(0, this.recentAt), RECENT_CONSOLE - this.recentAt);
    return out;
  }

  /** Acknowledges input once the guest has read enough of it (or the VM is gone). */
  private ackInput(): void {
    if (this.inputAcks.length === 0) return;
    if (this.vm && !this.stopped && this.vm.uart.pendingInput > INPUT_ROOM_MARK) return;
    for (const a of this.inputAcks.splice(0)) this.post({ t: 'input-ack', ...a });
  }

  private ackFrame(nic: number): void {
    if (this.frameAcks.size === 0) {
      this.host.soon(() => {
        for (const [n, frames] of this.frameAcks) this.post({ t: 'frame-ack', nic: n, frames });
        this.frameAcks.clear();
      });
    }
    this.frameAcks.set(nic, (this.frameAcks.get(nic) ?? 0) + 1);
  }

  private nowMs(): number {
    return this.clock.nowNs() / 1e6;
  }

  private counters(): DeviceCounters {
    const c: DeviceCounters = {
      diskReadBytes: 0, diskWriteBytes: 0, diskReadOps: 0, diskWriteOps: 0,
      netRxBytes: 0, netTxBytes: 0, netRxFrames: 0, netTxFrames: 0, diskThrottled: 0, netThrottled: 0,
      balloonBytes: this.devices?.balloon?.returnedBytes ?? 0,
      memoryTouchedBytes: this.vm ? this.vm.ram.touchedBytes : 0,
    };
    for (const d of this.devices?.disks ?? []) {
      c.diskReadBytes += d.stats.readBytes;
      c.diskWriteBytes += d.stats.writeBytes;
      c.diskReadOps += d.stats.readOps;
      c.diskWriteOps += d.stats.writeOps;
      c.diskThrottled += d.stats.throttled;
    }
    for (const n of this.devices?.nics ?? []) {
      c.netRxBytes += n.stats.rxBytes;
      c.netTxBytes += n.stats.txBytes;
      c.netRxFrames += n.stats.rxFrames;
      c.netTxFrames += n.stats.txFrames;
      c.netThrottled += n.stats.txThrottled + n.stats.rxThrottled;
    }
    return c;
  }

  /** While hart 0 does not run, the device accesses of the other harts are served from the event loop. */
  private async serveDoorbell(l: SmpLink): Promise<void> {
    while (!this.stopped && this.vm) {
      const seen = l.doorbell();
      this.vm.serveRemote();
      const w = waitAsync(l.i32, 0, seen);
      if (w.async) await w.value;
    }
  }

  private init(cfg: VmThreadConfig): void {
    const post = this.post;
    const m = cfg.machine;
    this.machine = m;
    this.allowedDirs = cfg.allowedDirs;
    // harts 1… in threads of their own, on shared RAM (tvisor's SBI only; under firmware they share this one),
    // a restored machine's too (its harts restore there: 'ready' hands them their saved states)
    if (m.vcpus > 1 && !m.firmware && !m.flash) {
      this.link = new SmpLink(m.vcpus);
      this.epochMs = performance.timeOrigin + performance.now();
      this.clock = epochClock(this.epochMs);
    }
    const r = cfg.restore;
    const host = this.host;
    const built = host.buildDevices(m, {
      nowMs: () => this.nowMs(),
      allowedDirs: cfg.allowedDirs,
      // an arriving guest's disks are held by the VM it leaves until the switch
      deferDisks: r !== undefined && 'incoming' in r,
      // a machine saved by `tvisor run --console virtio`: its console is the VM's console here too
      consoleOutput: (bytes) => this.console(bytes),
      // frames travel to and from the manager's virtual switch
      switchPort: (i) => ({
        send: (frame) => {
          const copy = frame.slice();
          post({ t: 'frame', nic: i, frame: copy }, [copy.buffer as ArrayBuffer]);
        },
        setReceiver: (fn) => (this.receivers[i] = fn),
        close: () => {},
      }),
    });
    this.devices = built;
    const devices = built.devices;
    const link = this.link;
    let flash: FlashBanks | undefined;
    if (m.flash) {
      if (!host.loadFlash) throw new Error('firmware in flash is not supported by this host');
      flash = host.loadFlash(cfg);
      this.flash = { close: flash.close }; // the image itself goes into the machine's ROM window, not kept here
    }
    this.vm = new Vm({
      memory: m.memoryBytes,
      cpus: m.vcpus,
      ...host.loadImages(cfg),
      ...(flash ? { flash: { code: flash.code, ...(flash.vars ? { vars: flash.vars } : {}) } } : {}),
      // opened again at a guest reboot: a file changed meanwhile is checked against the machine's layout
      reloadImages: () => {
        post({ t: 'rebooted' });
        return host.loadImages(cfg);
      },
      cmdline: m.cmdline,
      console: (bytes) => this.console(bytes),
      random: (n) => host.random(n),
      clock: this.clock,
      devices,
      onDeviceEvent: (e) => post({ t: 'device-event', device: e.device, reason: e.reason, internal: e.internal }),
      smp: link ? { link, wake: (hart) => post({ t: 'wake', hart }) } : undefined,
      jit: host.jit,
      resume: cfg.restore !== undefined,
    });
    this.vm.onWake = () => {
      if (this.idle) {
        this.idle = false;
        post({ t: 'wake' });
      }
    };
    if (r && 'incoming' in r) this.vm.ram.zeroTouched();
    else if (r) this.restore(r.snapshot, new Set(r.fresh), cfg.allowedDirs);
  }

  /** The last of a guest arriving by live migration (its pages are in): its disks are opened, and its state restored. */
  private arrive(m: Extract<ToVm, { t: 'incoming-final' }>): void {
    const vm = this.vm;
    try {
      if (!vm || !this.devices || this.stopped) throw new Error('its machine was not built');
      this.devices.openDisks(m.owner);
      vm.restoreState(m.state);
      this.post(this.ready());
    } catch (e) {
      this.stopped = true;
      this.close();
      this.post({ t: 'init-error', message: (e as Error).message });
    }
  }

  /** Live migration's pre-copy and stop-and-copy (see protocol.ts): batches of pages, and at the end the state. */
  private migrate(m: Extract<ToVm, { t: 'migrate-pages' | 'migrate-final' | 'migrate-abort' }>): void {
    const vm = this.vm;
    if (m.t === 'migrate-abort') {
      vm?.stopDirtyLog();
      return;
    }
    try {
      if (!vm || this.stopped || vm.exited) throw new Error('the VM has ended');
      if (this.machine?.flash) throw new Error(NO_FLASH_SAVES);
      if (m.t === 'migrate-pages') {
        if (m.all) vm.startDirtyLog();
        const pages = m.all ? nonzeroTouched(vm.ram.u8, vm.ram.touched) : vm.takeDirtyPages();
        const buf = packPages(vm.ram.u8, pages);
        // harts in other threads mark the same log (the manager hands it to them)
        const dirty = m.all && this.link ? { dirty: vm.ram.dirty!.buffer as SharedArrayBuffer } : {};
        this.post({ t: 'migrate-pages', pages: buf, count: pages.length, ...dirty }, [buf]);
      } else {
        const pages = vm.takeDirtyPages();
        const state = vm.saveState(m.remote);
        vm.stopDirtyLog();
        const buf = packPages(vm.ram.u8, pages);
        this.post({ t: 'migrate-final', pages: buf, count: pages.length, state }, [buf]);
      }
    } catch (e) {
      vm?.stopDirtyLog();
      this.post({ t: 'migrate-error', message: (e as Error).message });
    }
  }

  /** Puts the guest saved at `path` into the machine just built (its files checked unchanged, but `fresh`). */
  private restore(path: string, fresh: ReadonlySet<string>, allowedDirs?: string[]): void {
    const vm = this.vm!;
    const files = this.host.snapshots;
    if (!files) throw new Error(`restoring ${path}: ${NO_SNAPSHOTS}`);
    try {
      const saved = files.read(path, this.machine!, fresh, allowedDirs);
      restoreRam(vm.ram, saved.contents);
      vm.restoreState(saved.state);
      if (saved.console) this.console(saved.console);
    } catch (e) {
      if (e instanceof SnapshotError) throw new Error(`restoring ${path}: ${e.message}`);
      throw e;
    }
  }

  /** Writes the VM, parked between slices, to `path`; answers 'snapshot-done' or 'snapshot-error'. */
  private snapshot(m: Extract<ToVm, { t: 'snapshot' }>): void {
    const vm = this.vm;
    const devices = this.devices;
    const files = this.host.snapshots;
    try {
      if (!vm || !devices || !this.machine || this.stopped || vm.exited) throw new Error('the VM has ended');
      if (!files) throw new Error(NO_SNAPSHOTS);
      if (this.machine.flash) throw new Error(NO_FLASH_SAVES);
      const r = files.write(m.path, vm, {
        machine: this.machine, flushDisks: () => devices.flushDisks(), keepOverlays: true, console: this.recentConsole(), settings: m.settings,
        allowedDirs: this.allowedDirs, compress: m.compress, remote: m.remote,
      });
      this.post({ t: 'snapshot-done', bytes: r.bytes, savedDisks: r.savedDisks });
    } catch (e) {
      this.post({ t: 'snapshot-error', message: (e as Error).message, refused: files?.refused(e) ?? false });
    }
  }

  /** The machine can run: with harts in other threads, what their threads need (a restored guest's harts too). */
  private ready(): Extract<FromVm, { t: 'ready' }> {
    const vm = this.vm!;
    const m = this.machine!;
    if (!this.link) return { t: 'ready' };
    const restored = vm.takeRemoteStates();
    return {
      t: 'ready',
      smp: {
        memory: vm.ram.memory, touched: vm.ram.touchedBuffer as SharedArrayBuffer, link: this.link.buffer, mmio: vm.mmioLayout(),
        epochMs: this.epochMs, mtimeOffset: restored?.mtimeOffset ?? 0, ramBase: RAM_BASE, ramSize: m.memoryBytes, harts: m.vcpus,
        ...(restored ? { restore: restored.harts } : {}),
      },
    };
  }

  /** Closes the disks (best effort: the lock files are removed at exit too). */
  close(): void {
    this.devices?.close();
    this.flash?.close();
  }

  handle(m: ToVm): void {
    const post = this.post;
    const vm = this.vm;
    switch (m.t) {
      case 'init':
        try {
          this.init(m.config);
          if (this.link) void this.serveDoorbell(this.link);
          post(m.config.restore && 'incoming' in m.config.restore ? { t: 'incoming-ready' } : this.ready());
        } catch (e) {
          this.close();
          post({ t: 'init-error', message: (e as Error).message });
        }
        break;
      case 'run': {
        if (!vm) return;
        vm.setStealTime(0, m.stealNs, false);
        const trimmed = vm.trimmedPages;
        const r = vm.runSlice(m.budgetNs);
        this.released(vm.trimmedPages - trimmed);
        this.idle = r.idle;
        // out of its slice but still wanting to run: preempted (an idle vCPU is not)
        if (!r.idle && !r.exit) vm.setStealTime(0, m.stealNs, true);
        if (r.exit) this.close();
        this.out.flush();
        this.ackInput();
        post({
          t: 'slice',
          instructions: r.instructions,
          elapsedNs: r.elapsedNs,
          idle: r.idle,
          idleForNs: r.idle ? vm.idleForNs() : 0,
          exit: r.exit,
          counters: this.counters(),
        });
        break;
      }
      case 'input': {
        // the UART takes what fits its line (a bounded backlog feeding its FIFO) and drops the rest
        const before = vm?.uart.stats.rxDropped ?? 0;
        vm?.sendInput(m.bytes);
        const dropped = vm ? vm.uart.stats.rxDropped - before : m.bytes.length;
        this.inputAcks.push({ bytes: m.bytes.length, dropped });
        this.ackInput();
        break;
      }
      case 'console-ack':
        this.out.acked(m.bytes);
        break;
      case 'frame':
        this.receivers[m.nic]?.(m.frame);
        this.ackFrame(m.nic);
        break;
      case 'balloon':
        this.devices?.balloon?.setTarget(m.bytes);
        break;
      case 'rate-limiter': {
        const now = this.nowMs();
        const d = this.devices;
        if (m.device === 'disk' && d?.disks[m.index]) {
          d.diskLimiters[m.index] = applyLimiterConfig(d.diskLimiters[m.index], m.config, now);
          d.disks[m.index].setLimiter(d.diskLimiters[m.index]);
        } else if (m.device === 'nic' && d?.nics[m.index]) {
          const l = d.nicLimiters[m.index];
          l.tx = applyLimiterConfig(l.tx, m.config, now);
          l.rx = applyLimiterConfig(l.rx, m.config, now);
          d.nics[m.index].setLimiters(l.tx, l.rx);
        }
        break;
      }
      case 'snapshot':
        this.snapshot(m);
        break;
      case 'migrate-pages':
      case 'migrate-final':
      case 'migrate-abort':
        this.migrate(m);
        break;
      case 'incoming-pages':
        if (vm) unpackPages(m.pages, (p, data) => vm.ram.write(vm.ram.base + p * 4096, data));
        break;
      case 'incoming-final':
        this.arrive(m);
        break;
      case 'stop':
        this.stopped = true;
        vm?.stop();
        this.close();
        post({ t: 'stopped' });
        break;
    }
  }
}

/** The VMs of one thread: takes the manager's messages (ToHost) and hands each to its VM's slot. */
export class VmThreadMain {
  private readonly slots = new Map<number, VmSlot>();
  /**
   * Decoded pages idle VMs let go of are garbage that a thread of idle VMs, allocating next to nothing, would
   * hardly ever collect: once a few MiB have piled up, collect them (VmSlotHost.gc, when the host has one).
   */
  private releasedPages = 0;
  private lastGcMs = 0;

  /** Messages not yet handled, in order, while one waits for its preparation (VmSlotHost.prepare). */
  private readonly queue: ToHost[] = [];
  private waiting = false;

  constructor(private readonly host: VmSlotHost) {}

  /** Handles a message from the manager: at once, unless an earlier one still waits for its preparation. */
  handle(msg: ToHost): void {
    this.queue.push(msg);
    if (!this.waiting) this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const msg = this.queue[0];
      const ready = this.host.prepare?.(msg);
      if (ready) {
        this.waiting = true;
        void ready.then(() => this.dispatch(msg), (e: unknown) => {
          if (msg.m.t === 'init') this.host.post({ ch: msg.ch, m: { t: 'init-error', message: (e as Error)?.message ?? String(e) } });
        }).finally(() => {
          this.queue.shift();
          this.waiting = false;
          this.pump();
        });
        return;
      }
      this.queue.shift();
      this.dispatch(msg);
    }
  }

  private dispatch({ ch, m }: ToHost): void {
    const host = this.host;
    if (m.t === 'ping') {
      host.post({ ch, m: { t: 'pong' } });
      return;
    }
    let slot = this.slots.get(ch);
    if (!slot) {
      // a VM already gone
      if (m.t === 'stop') host.post({ ch, m: { t: 'stopped' } });
      if (m.t !== 'init') return;
      slot = new VmSlot(host, (msg, transfer) => host.post({ ch, m: msg }, transfer), (pages) => this.released(pages));
      this.slots.set(ch, slot);
    }
    try {
      slot.handle(m);
    } catch (e) {
      // a fault of this host's code for one VM: that VM ends, its neighbours in the thread go on
      slot.stopped = true;
      slot.close();
      const err = e as Error;
      host.post({ ch, m: { t: 'crash', reason: `internal error: ${err.message}` } });
    }
    if (slot.stopped) this.slots.delete(ch);
  }

  private released(pages: number): void {
    this.releasedPages += pages;
    if (!this.host.gc || this.releasedPages < 256 || performance.now() - this.lastGcMs < 5000) return;
    this.releasedPages = 0;
    this.lastGcMs = performance.now();
    this.host.soon(() => this.host.gc?.());
  }
}
