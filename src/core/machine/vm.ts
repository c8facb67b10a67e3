// A Linux-capable virtual machine on the tvisor virt board: RAM, harts, CLINT, PLIC, UART, RTC, syscon;
// boots a kernel either through the hypervisor's own SBI (kernel entered in S-mode, like a KVM guest) or
// through guest firmware in M-mode (OpenSBI fw_dynamic). Harts share one host thread, round-robin.
import { GuestRam } from './memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase, type ClintState } from '../devices/clint.js';
import { Plic, type PlicState } from '../devices/plic.js';
import { Uart16550, type UartState } from '../devices/uart16550.js';
import { GoldfishRtc, type RtcState } from '../devices/goldfish-rtc.js';
import { VmGenId, type VmGenIdState } from '../devices/vmgenid.js';
import { Syscon } from '../devices/syscon.js';
import { CfiFlash, FLASH_BANK_SIZE, FLASH_BASE, type CfiFlashState } from '../devices/cfi-flash.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart, STUCK_TRAPS } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import { ENVCFG, MIP_MEIP, MIP_SEIP, PMPCFG, PRIV, S_INTERRUPTS } from '../cpu/bits.js';
import { MISA_LO } from '../cpu/system.js';
import { Sbi, type ResetKind, type SbiState } from '../sbi/sbi.js';
import { boardDevices, buildDeviceTree, PLIC_SOURCES, RAM_BASE, VIRTIO_SLOTS, type BoardDeviceKind, type HartFeatures } from './board.js';
import { BootError, DTB_MAX, fwDynamicInfo, layoutBoot, parseFirmware, parseKernelImage, type KernelImage } from './linux.js';
import { copyImage, imageSize, type BootImage } from './boot-file.js';
import type { SmpLink } from './smp.js';
import { VirtioMmio, type VirtioDevice, type VirtioEvent, type VirtioMmioState } from '../virtio/mmio.js';
import { RecordReader, SnapshotError } from '../snapshot/state.js';
import { restoreHart, saveHart, type HartState, type RemoteHartState } from '../snapshot/hart.js';
import { monotonicClock, systemWallClock, type Clock, type WallClock } from '../host/clock.js';
import { PanicDetector } from './panic-detector.js';
import type { JitMode } from '../jit/mode.js';

export { BootError };

/** M-mode firmware: an image (raw, loaded at the RAM base, or ELF), or 'none' (the kernel runs in M-mode). */
export type Firmware = BootImage | 'none';

/** The firmware as the machine loads it: where its pieces go, where harts start. */
type LoadedFirmware = KernelImage | 'none';

export interface VmConfig {
  /** Guest RAM in bytes (multiple of 4 KiB, at most 2 GiB). */
  memory: number;
  cpus: number;
  /** Images in memory, or files read straight into guest RAM at each boot (boot-file.ts). */
  kernel: BootImage;
  initrd?: BootImage;
  cmdline: string;
  /**
   * M-mode firmware (OpenSBI fw_dynamic.bin, or an ELF such as fw_dynamic.elf loaded where it is linked);
   * without it the hypervisor's SBI serves the kernel. 'none': no firmware and no SBI, every hart starts the
   * kernel itself in M-mode (QEMU's `-bios none`), for kernels that are their own firmware, such as xv6.
   */
  firmware?: Firmware;
  /**
   * The two CFI flash banks of QEMU's virt board (pflash_cfi01, 32 MiB each at 0x20000000 and 0x22000000), for
   * firmware that lives in flash (EDK2). Bank 0 (`code`, at most 32 MiB, the rest erased) is read-only and runs
   * in place: its array sits in the VM's memory beside RAM (GuestRam's ROM window). Bank 1 is writable: `vars`
   * gives its bytes (exactly 32 MiB, changed in place) and `written`, told each changed range, persists them
   * (EDK2's variable store); without `vars` it starts erased and lives in memory only. With flash and an empty
   * kernel image, the next stage is bank 0: M-mode firmware's (in S-mode, as QEMU's `-bios … -drive
   * if=pflash`), or every hart's with firmware 'none' (in M-mode, QEMU's `-bios none`).
   */
  flash?: { code: Uint8Array; vars?: { storage: Uint8Array; written?: (offset: number, length: number) => void } };
  /** Console output from the guest (UART, SBI debug console). */
  console: (bytes: Uint8Array) => void;
  /** Cryptographic random bytes for the device tree's rng-seed. */
  random: (n: number) => Uint8Array;
  clock?: Clock;
  wallClock?: WallClock;
  /** virtio devices, in slot order (the guest names disks vda, vdb, … in this order). */
  devices?: VirtioDevice[];
  /**
   * Runs harts 1… in other threads (multi-vCPU VM with parallel harts; only with the hypervisor's own SBI):
   * this Vm keeps the devices and hart 0, RAM becomes a shared memory, and everything crossing threads goes
   * through `link`. `wake(hart)` asks the scheduler to run a remote hart that has something to do. `clock`
   * must then count from an epoch all the VM's threads share (mtime starts at 0 there).
   */
  smp?: { link: SmpLink; wake(hart: number): void };
  /**
   * Gives the images again for a guest reboot. When set, the Vm drops its copies of kernel, initrd and
   * firmware once booted (tens of MiB per VM otherwise kept for a reboot that may never come).
   */
  reloadImages?: () => { kernel: BootImage; initrd?: BootImage; firmware?: Firmware };
  /** A device went to DEVICE_NEEDS_RESET. After a guest protocol violation the VM keeps running (the
   *  driver may reset the device); after an internal error (a tvisor bug) the VM ends as crashed. */
  onDeviceEvent?: (e: VirtioEvent) => void;
  /** When the harts translate guest code to WebAssembly (default: on). */
  jit?: JitMode;
  /**
   * The machine is about to be given a saved guest (its RAM, then restoreState): it is built but not booted, so
   * no image is read into RAM only to be replaced. A guest reboot later boots it as usual.
   */
  resume?: boolean;
}

/** A machine's saved state (Vm.saveState); its RAM travels beside it. */
export interface VmState {
  version: 2;
  harts: HartState[];
  clint: ClintState;
  plic: PlicState;
  uart: UartState;
  rtc: RtcState;
  vmgenid: VmGenIdState;
  sbi: SbiState | null;
  virtio: VirtioMmioState[];
  /** The flash banks' command state (their arrays are the files the VM was given: bank 0 read-only, bank 1
   *  written back as it changes); absent when the machine has no flash. */
  flash?: CfiFlashState[];
}

export type VmExit =
  | { kind: 'poweroff'; code: number }
  | { kind: 'stopped' }
  /** The guest can make no progress (its trap vector faults again and again, or its kernel panicked:
   *  "guest kernel panic: <Linux's reason>"); `reason` says how. */
  | { kind: 'crashed'; reason: string };

/** What one runSlice() did. */
export interface SliceResult {
  instructions: number;
  /** Every hart is waiting (WFI or stopped); nothing to do until idleForNs() or an interrupt. */
  idle: boolean;
  exit: VmExit | null;
  /** Host time the slice took. */
  elapsedNs: number;
}

/** Instructions a hart runs before the next one gets its turn. */
const SLICE = 200_000;
/** Longest time the scheduler runs without yielding to the host event loop. */
const YIELD_NS = 20e6;

/** Multi-letter extensions the harts implement (riscv,isa-extensions). */
const EXTENSIONS = ['zicbom', 'zicboz', 'zicntr', 'zicond', 'zicsr', 'zifencei', 'zihintpause', 'zba', 'zbb', 'zbs', 'sstc'];

const hex = (lo: number, hi: number) => `0x${(BigInt(hi >>> 0) << 32n | BigInt(lo >>> 0)).toString(16)}`;

export function stuckReason(hart: number, t: { cause: number; pcLo: number; pcHi: number }): string {
  return `hart ${hart} makes no progress: ${STUCK_TRAPS} traps in a row without an instruction retired ` +
    `(last: cause ${t.cause} at pc ${hex(t.pcLo, t.pcHi)}); its trap vector faults again and again`;
}

export function hartFeatures(): HartFeatures {
  let letters = '';
  for (const l of 'imafdc') if (MISA_LO & (1 << (l.charCodeAt(0) - 97))) letters += l;
  return { letters, extensions: EXTENSIONS, mmu: 'sv57' };
}

/** How often an idle VM lets go of decoded code pages it did not run since the last time. */
const TRIM_INTERVAL_NS = 2e9;

export class Vm {
  readonly ram: GuestRam;
  readonly bus = new Bus();
  readonly clint: Clint;
  readonly plic: Plic;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  /** The VM generation ID: a new one on every restore, so a resumed guest reseeds its random generator. */
  readonly vmgenid: VmGenId;
  readonly harts: Hart[] = [];
  /** Restored harts for other threads, until the host takes them (takeRemoteStates). */
  private remoteStates: RemoteHartState[] | null = null;
  readonly sbi: Sbi | null;
  readonly dtb: Uint8Array;
  readonly virtio: VirtioMmio[] = [];
  private readonly code: CodeCache;
  private readonly clock: Clock;
  private lastTrimNs = 0;
  /** Decoded code pages an idle VM has let go of so far (their arrays are garbage for the host to collect). */
  trimmedPages = 0;
  /** The images to load at the next boot; null after boot when they can be reloaded (cfg.reloadImages). */
  private images: { kernel: KernelImage; initrd?: BootImage; firmware?: LoadedFirmware } | null;
  private readonly layout: ReturnType<typeof layoutBoot>;
  private exit: VmExit | null = null;
  private readonly cfg: VmConfig;
  private resetRequested = false;
  /** SMP: the link's doorbell count when mailboxes were last served. */
  private doorbellSeen = 0;
  private wakeup: (() => void) | null = null;
  /** A Linux guest that panicked spins in panic() for ever: its end-of-panic line ends the VM as crashed. */
  private readonly panic = new PanicDetector();
  /** The flash banks (none, or bank 0 and bank 1: VmConfig.flash). */
  private readonly flash: CfiFlash[];

  constructor(config: VmConfig) {
    const { initrd, firmware } = config;
    // with reloadImages the images are not kept past the first boot: hold the configuration without them
    const cfg: VmConfig = config.reloadImages
      ? { ...config, kernel: new Uint8Array(0), initrd: undefined, firmware: config.firmware === 'none' ? 'none' : undefined } : config;
    // bank 0's image is copied into the ROM window below: the configuration held for later does not keep it twice
    this.cfg = cfg.flash ? { ...cfg, flash: { ...cfg.flash, code: new Uint8Array(0) } } : cfg;
    if (!Number.isInteger(cfg.cpus) || cfg.cpus < 1 || cfg.cpus > 8) throw new BootError(`--cpus must be 1 to 8, got ${cfg.cpus}`);
    this.clock = cfg.clock ?? monotonicClock();
    const { kernel, firmware: fw } = layoutImages(config.kernel, firmware, cfg.flash !== undefined);
    this.images = { kernel, initrd, firmware: fw };
    const initrdSize = initrd ? imageSize(initrd) : 0;
    if (initrdSize > cfg.memory) {
      throw new BootError(`the initrd (${Math.ceil(initrdSize / 2 ** 20)} MiB) is larger than guest memory (${cfg.memory / 2 ** 20} MiB)`);
    }
    this.layout = layoutBoot(cfg.memory, kernel.endOffset, initrdSize);
    if (cfg.smp && firmware) throw new BootError(`harts in parallel threads need tvisor's own SBI, not ${firmware === 'none' ? 'a kernel in M-mode' : 'M-mode firmware'}`);
    // (their threads see RAM only: the ROM window is this thread's)
    if (cfg.smp && cfg.flash) throw new BootError('harts in parallel threads do not run firmware in flash: boot it with its harts in one thread');
    this.ram = new GuestRam(RAM_BASE, cfg.memory, {
      shared: cfg.smp !== undefined,
      harts: cfg.cpus,
      rom: cfg.flash && { base: FLASH_BASE, size: FLASH_BANK_SIZE },
    });
    this.flash = cfg.flash ? this.makeFlash(cfg.flash) : [];
    this.code = new CodeCache(this.ram);
    this.clint = new Clint(new Timebase(this.clock, cfg.smp ? 0 : undefined), cfg.cpus);
    this.clint.onChange = () => this.wake();
    const devices = cfg.devices ?? [];
    if (devices.length > VIRTIO_SLOTS) throw new BootError(`at most ${VIRTIO_SLOTS} virtio devices fit the board, got ${devices.length}`);
    // the board's map (board.ts), from which the device tree comes too: a device of each kind at its place
    const board = boardDevices(cfg.cpus, devices.length, cfg.flash !== undefined);
    const irqOf = (kind: BoardDeviceKind) => board.find((b) => b.kind === kind)!.irq!;
    const contexts = 2 * cfg.cpus;
    this.plic = new Plic({
      sources: PLIC_SOURCES,
      contexts,
      onContext: (ctx, level) => {
        const h = this.harts[ctx >> 1];
        const bit = ctx & 1 ? MIP_SEIP : MIP_MEIP;
        h.irqLines = level ? h.irqLines | bit : h.irqLines & ~bit;
        if (cfg.smp && h.hartId > 0) {
          cfg.smp.link.setLines(h.hartId, h.irqLines);
          if (level) cfg.smp.wake(h.hartId);
        } else if (level) this.wake();
      },
    });
    const panic = this.panic;
    const panicked = (reason: string | null) => this.panicked(reason);
    this.uart = new Uart16550((b) => {
      cfg.console(Uint8Array.of(b));
      panicked(panic.scanByte(b));
    }, this.plic.irq(irqOf('uart'), 'edge')); // a request each time the UART signals (Uart16550.update)
    this.rtc = new GoldfishRtc(cfg.wallClock ?? systemWallClock(), this.plic.irq(irqOf('rtc')));
    this.vmgenid = new VmGenId(cfg.random, this.plic.irq(irqOf('vmgenid')));
    const syscon = new Syscon((e) => {
      if (e.kind === 'poweroff') this.finish({ kind: 'poweroff', code: e.code });
      else this.requestReset();
    });
    for (const b of board) {
      if (b.kind === 'virtio') {
        const d = devices[b.slot!];
        // device timers (rate limiting) run on the VM's clock and count in its idle deadline
        const t = new VirtioMmio(d, this.ram, this.plic.irq(b.irq!), (e) => this.deviceEvent(e), {
          clock: this.clock,
          timerArmed: () => this.wake(),
        });
        this.bus.map(b.base, b.size, d.name, t);
        this.virtio.push(t);
      } else if (b.kind === 'flash') {
        this.flash.forEach((bank, i) => this.bus.map(b.base + i * FLASH_BANK_SIZE, FLASH_BANK_SIZE, `${b.name}${i}`, bank));
      } else {
        this.bus.map(b.base, b.size, b.name, { clint: this.clint, plic: this.plic, uart: this.uart, rtc: this.rtc, vmgenid: this.vmgenid, syscon }[b.kind]);
      }
    }
    for (let i = 0; i < cfg.cpus; i++) {
      this.harts.push(new Hart({ hartId: i, ram: this.ram, bus: this.bus, code: this.code, clint: this.clint, jit: cfg.jit }));
    }
    const smp = cfg.smp;
    this.sbi = firmware ? null : new Sbi({
      harts: smp ? this.harts.map((h, i) => (i === 0 ? h : null)) : this.harts,
      smp: smp && { link: smp.link, wake: smp.wake, flushCode: () => this.code.clear(), serve: () => this.serveRemote() },
      memory: this.ram,
      consoleWrite: (b) => {
        cfg.console(b);
        panicked(panic.scan(b)); // earlycon=sbi: panics before the UART driver starts
      },
      // console input belongs to the UART (ttyS0); the SBI debug console has nothing to read
      consoleRead: () => new Uint8Array(0),
      reset: (kind: ResetKind) => (kind === 'shutdown' ? this.finish({ kind: 'poweroff', code: 0 }) : this.requestReset()),
      wake: () => this.wake(),
    });
    if (this.sbi) for (const h of this.harts) this.sbi.attach(h);
    if (smp) {
      // hart 0 serves the other harts' device accesses, IPIs and fences between its instruction chunks
      const h0 = this.harts[0];
      h0.chunkHook = () => this.serveSmp();
      h0.onFenceI = () => this.code.clear();
    }
    const initrdRange = initrdSize > 0
      ? { start: RAM_BASE + this.layout.initrdOffset, end: RAM_BASE + this.layout.initrdEnd } : undefined;
    this.dtb = buildDeviceTree({
      harts: cfg.cpus,
      ramSize: cfg.memory,
      features: hartFeatures(),
      bootargs: cfg.cmdline,
      initrd: initrdRange,
      rngSeed: cfg.random(64),
      virtioDevices: devices.length,
      flash: cfg.flash !== undefined,
    });
    if (this.dtb.length > DTB_MAX) throw new BootError('the device tree is too large');
    if (!cfg.resume) this.boot();
    else if (cfg.reloadImages) this.images = null;
  }

  /** Loads the images into RAM and puts every hart at its reset state. */
  private boot(): void {
    const ram = this.ram;
    const img = this.images ?? this.reload();
    if (!img) return;
    ram.zeroTouched(); // a fresh memory is zero already: this costs nothing at the first boot
    this.code.clear();
    this.bus.reset();
    try {
      for (const p of img.kernel.pieces) this.load(RAM_BASE + p.offset, p.data);
      if (img.initrd) this.load(RAM_BASE + this.layout.initrdOffset, img.initrd);
      if (img.firmware && img.firmware !== 'none') for (const p of img.firmware.pieces) this.load(RAM_BASE + p.offset, p.data);
    } catch (e) {
      this.finish({ kind: 'crashed', reason: `cannot load the boot images: ${(e as Error).message}` });
      return;
    }
    ram.write(RAM_BASE + this.layout.dtbOffset, this.dtb);
    const dtb = RAM_BASE + this.layout.dtbOffset;
    const entry = RAM_BASE + img.kernel.entryOffset;
    if (this.cfg.reloadImages) this.images = null;
    if (img.firmware) {
      // as QEMU's reset vector leaves every hart: a0 = hart id, a1 = the device tree, a2 = fw_dynamic's record
      // of the next stage (the kernel), in M-mode at the firmware's entry (or the kernel's, with 'none')
      const info = RAM_BASE + this.layout.fwInfoOffset;
      ram.write(info, fwDynamicInfo(BigInt(entry), 0));
      const start = RAM_BASE + (img.firmware === 'none' ? img.kernel : img.firmware).entryOffset;
      for (const h of this.harts) {
        h.reset(start | 0, 0);
        h.sbiTimer = Infinity;
        h.x[22] = dtb | 0; // a1 = device tree
        h.x[23] = 0;
        h.x[24] = info | 0; // a2 = fw_dynamic_info
        h.x[25] = 0;
      }
    } else {
      const sbi = this.sbi!;
      sbi.reset();
      for (const h of this.harts) {
        h.reset(0, 0);
        h.sbiTimer = Infinity;
        this.delegateToSupervisor(h);
        h.waiting = true;
      }
      sbi.startHart(0, entry | 0, 0, dtb | 0, 0);
    }
  }

  /** The two flash banks: bank 0's array is the ROM window (executed in place), bank 1's the host's storage. */
  private makeFlash(f: NonNullable<VmConfig['flash']>): CfiFlash[] {
    if (f.code.length > FLASH_BANK_SIZE) throw new BootError(`the flash image (${f.code.length} bytes) is larger than a flash bank (${FLASH_BANK_SIZE} bytes)`);
    if (f.vars && f.vars.storage.length !== FLASH_BANK_SIZE) throw new BootError(`flash bank 1 must be given all ${FLASH_BANK_SIZE} bytes, got ${f.vars.storage.length}`);
    const rom = this.ram.romBytes();
    rom.fill(0xff); // erased NOR flash reads all ones
    rom.set(f.code);
    return [
      // read-only: nothing changes what the harts run from it (decoded copies never go stale)
      new CfiFlash({ storage: rom, readOnly: true }),
      new CfiFlash({ storage: f.vars?.storage ?? new Uint8Array(FLASH_BANK_SIZE).fill(0xff), onWrite: f.vars?.written }),
    ];
  }

  /** Copies an image into guest RAM at `paddr` (a file is read straight into it). */
  private load(paddr: number, image: BootImage): void {
    const size = imageSize(image);
    if (size === 0) return;
    copyImage(image, this.ram.view(paddr, size));
    this.ram.written(paddr, size);
  }

  /** The images again, for a reboot; they must still fit the layout the machine was built with. */
  private reload(): { kernel: KernelImage; initrd?: BootImage; firmware?: LoadedFirmware } | null {
    try {
      const again = this.cfg.reloadImages!();
      if ((again.firmware === 'none') !== (this.cfg.firmware === 'none')) throw new Error('the firmware changed since the VM started; stop and start it');
      const { kernel, firmware: fw } = layoutImages(again.kernel, again.firmware, this.cfg.flash !== undefined);
      const fits = layoutBoot(this.cfg.memory, kernel.endOffset, again.initrd ? imageSize(again.initrd) : 0);
      if (fits.initrdOffset !== this.layout.initrdOffset || fits.dtbOffset !== this.layout.dtbOffset || (again.firmware !== undefined) !== (this.sbi === null)) {
        throw new Error('the kernel, initrd or firmware file changed since the VM started; stop and start it');
      }
      return { kernel, initrd: again.initrd, firmware: fw };
    } catch (e) {
      this.finish({ kind: 'crashed', reason: `cannot reboot: ${(e as Error).message}` });
      return null;
    }
  }

  private delegateToSupervisor(h: Hart): void {
    prepareSupervisorHart(h);
  }

  /**
   * SMP: serves the device accesses harts in other threads asked for; returns how many. The host calls it
   * when the link's doorbell rings while hart 0 is not running; hart 0 calls it between chunks.
   */
  serveRemote(): number {
    const link = this.cfg.smp?.link;
    if (!link) return 0;
    this.doorbellSeen = link.doorbell();
    const bus = this.bus;
    return link.serve((write, paddr, width, value) => {
      const m = bus.find(paddr, width);
      if (m === undefined || (paddr & (width - 1)) !== 0) return null;
      if (write) {
        m.device.write(paddr - m.base, width, width === 8 ? value : Number(BigInt.asUintN(8 * width, value)));
        return 0n;
      }
      const v = m.device.read(paddr - m.base, width);
      return typeof v === 'bigint' ? v : BigInt(width === 8 ? v : v >>> 0);
    });
  }

  /** SMP: serves pending device accesses of other harts and takes what they asked of hart 0. */
  private serveSmp(): void {
    if (this.cfg.smp!.link.doorbell() !== this.doorbellSeen) this.serveRemote();
    this.sbi!.syncLocal(this.harts[0]);
  }

  /** The MMIO map, for harts in other threads (their device accesses come back here). */
  mmioLayout(): { base: number; size: number; name: string }[] {
    return this.bus.layout();
  }

  /**
   * Console output of a device the VM's owner attached (a virtio console): watched for the end of a kernel
   * panic like the UART's and the SBI console's.
   */
  watchConsole(bytes: Uint8Array): void {
    this.panicked(this.panic.scan(bytes));
  }

  private panicked(reason: string | null): void {
    if (reason !== null) this.finish({ kind: 'crashed', reason: `guest kernel panic: ${reason}` });
  }

  /** Host → guest console input (UART receive FIFO; SBI debug console reads take from the same queue). */
  sendInput(bytes: Uint8Array): void {
    this.uart.receive(bytes);
    this.wake();
  }

  /**
   * Tells the guest how long hart `hart` has been runnable without a host CPU (ns since boot) and whether
   * it is preempted now, through the SBI steal-time record (STA) if the guest registered one. Only with the
   * hypervisor's own SBI; under M-mode firmware that is the firmware's business.
   */
  setStealTime(hart: number, stealNs: number, preempted: boolean): void {
    this.sbi?.setSteal(hart, stealNs, preempted);
  }

  /**
   * Starts logging the RAM pages written (live migration's pre-copy: send everything, then what was written
   * meanwhile, round after round, then stop the VM and send the rest with saveState()). Between slices only.
   * Harts in other threads mark the log once they attach it (ram.dirty's buffer: RemoteHartMachine.logWrites),
   * and drop their write translations at every take, all while no hart runs.
   */
  startDirtyLog(): void {
    this.ram.startDirtyLog();
    for (const h of this.harts) h.mmu.dropWrites();
  }

  /** The RAM pages (indices from RAM's base) written since the log started or was last taken; between slices only. */
  takeDirtyPages(): number[] {
    const pages = this.ram.takeDirty();
    // a page with a write translation cached would be written without a fill, unlogged
    for (const h of this.harts) h.mmu.dropWrites();
    return pages;
  }

  stopDirtyLog(): void {
    this.ram.stopDirtyLog();
  }

  /**
   * The machine's state, besides its RAM (see ramPages): every hart, the board devices, the SBI and each
   * virtio transport with its device. Take it between slices; harts in other threads (harts 1…) give `remote`,
   * saved in their threads meanwhile (RemoteHartMachine.save).
   */
  saveState(remote?: readonly RemoteHartState[]): VmState {
    const smp = this.cfg.smp;
    if (smp && remote?.length !== this.harts.length - 1) {
      throw new SnapshotError(`snapshot: the harts in other threads must be saved with it (${remote?.length ?? 0} of ${this.harts.length - 1} given)`);
    }
    // what the link holds for hart 0 (an IPI, a start) goes into its record: a restored link starts empty
    if (smp) this.serveSmp();
    const sbi = this.sbi?.save() ?? null;
    // harts in other threads: their own records, and the per-hart part of their SBI's
    if (smp && sbi) sbi.sta = sbi.sta.map((a, i) => (i === 0 ? a : remote![i - 1].sbi.sta[i] ?? null));
    return {
      version: 2,
      harts: smp ? [saveHart(this.harts[0]), ...remote!.map((r) => r.hart)] : this.harts.map(saveHart),
      clint: this.clint.save(),
      plic: this.plic.save(),
      uart: this.uart.save(),
      rtc: this.rtc.save(),
      vmgenid: this.vmgenid.save(),
      sbi,
      virtio: this.virtio.map((v) => v.save()),
      ...(this.flash.length > 0 ? { flash: this.flash.map((f) => f.save()) } : {}),
    };
  }

  /**
   * After restoreState with harts in other threads: what each of them (harts 1…) is to restore, and mtime's
   * lead over the shared clock, for their threads (taken once).
   */
  takeRemoteStates(): { harts: RemoteHartState[]; mtimeOffset: number } | null {
    const r = this.remoteStates;
    this.remoteStates = null;
    return r && { harts: r, mtimeOffset: this.clint.timebase.offsetTicks };
  }

  /**
   * Takes a saved state into this machine, which must be built like the saved one (same harts, firmware or
   * not, virtio devices in the same slots: the machine description) and hold the saved RAM already
   * (snapshot/file.ts restoreRam). Checks the record's shape first; a part refused after that (a virtqueue
   * outside RAM) leaves the machine unusable: the caller discards it.
   */
  restoreState(record: unknown): void {
    const r = new RecordReader(record, 'vm', 2);
    const harts = r.records('harts', this.harts.length);
    const virtio = r.records('virtio', this.virtio.length);
    const sbi = r.raw('sbi');
    const flash = this.flash.length > 0 ? r.records('flash', this.flash.length) : [];
    if (this.flash.length === 0 && r.raw('flash') !== undefined) throw new SnapshotError('snapshot: saved with flash, restored without');
    if ((sbi === null) !== (this.sbi === null)) {
      throw new SnapshotError(`snapshot: saved ${sbi === null ? 'under M-mode firmware' : 'with tvisor\'s SBI'}, restored ${this.sbi === null ? 'under firmware' : 'with tvisor\'s SBI'}`);
    }
    this.code.clear(); // decoded and translated code of the RAM the machine had before
    // harts in other threads restore there (takeRemoteStates); this thread's copies of them stay parked
    harts.forEach((h, i) => (!this.cfg.smp || i === 0) && restoreHart(this.harts[i], h));
    if (this.cfg.smp) this.remoteStates = harts.slice(1).map((h) => ({ hart: h as HartState, sbi: sbi as SbiState }));
    this.clint.restore(r.raw('clint'));
    this.plic.restore(r.raw('plic'));
    this.uart.restore(r.raw('uart'));
    this.rtc.restore(r.raw('rtc'));
    this.vmgenid.restore(r.raw('vmgenid'));
    this.sbi?.restore(sbi);
    virtio.forEach((v, i) => this.virtio[i].restore(v));
    flash.forEach((f, i) => this.flash[i].restore(f));
    // resumed, perhaps once more (a clone): the guest's random generator must not repeat itself
    this.vmgenid.newGeneration();
    this.exit = null;
    this.resetRequested = false;
    this.wake();
  }

  /** Stops the VM from the host side; run() resolves with { kind: 'stopped' }. */
  stop(): void {
    this.finish({ kind: 'stopped' });
  }

  get instructions(): number {
    return this.harts.reduce((n, h) => n + h.retired, 0);
  }

  /**
   * A virtio device went to DEVICE_NEEDS_RESET. A guest that broke the protocol can recover by resetting the
   * device; a failure of the emulation itself (a bug: the device threw) cannot be trusted to leave the
   * machine consistent, so the VM ends as crashed, as with a hart that makes no progress.
   */
  private deviceEvent(e: VirtioEvent): void {
    this.cfg.onDeviceEvent?.(e);
    if (e.internal) this.finish({ kind: 'crashed', reason: `${e.device}: ${e.reason.split('\n')[0]}` });
  }

  private finish(e: VmExit): void {
    if (this.exit === null) this.exit = e;
    for (const h of this.harts) h.stop = true;
    this.wake();
  }

  private requestReset(): void {
    this.resetRequested = true;
    for (const h of this.harts) h.stop = true;
    this.wake();
  }

  /** Called whenever something may have made an idle VM runnable (interrupt, input, stop); for schedulers. */
  onWake: (() => void) | null = null;

  private wake(): void {
    this.onWake?.();
    const w = this.wakeup;
    if (w) {
      this.wakeup = null;
      w();
    }
  }

  private runnable(i: number): boolean {
    if (this.cfg.smp && i > 0) return false; // it runs in its own thread
    return this.sbi ? this.sbi.runnable(i) : true;
  }

  /**
   * Host nanoseconds until an idle VM has work again: the next timer of any hart, the RTC alarm or a virtio
   * device's timer (a throttled queue), Infinity if none. Device interrupts and console input wake it earlier
   * through `onWake`.
   */
  idleForNs(): number {
    const tb = this.clint.timebase;
    let t = Infinity;
    for (let i = 0; i < this.harts.length; i++) {
      if (!this.runnable(i)) continue;
      t = Math.min(t, tb.nsUntil(this.harts[i].timerDeadline()));
    }
    const rtc = this.rtc.nsUntilAlarm();
    if (rtc !== null) t = Math.min(t, rtc);
    const now = this.clock.nowNs();
    for (const v of this.virtio) t = Math.min(t, Math.max(0, v.timerDeadlineNs - now));
    return t;
  }

  private sleep(ns: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeup = null;
        resolve();
      }, Math.max(0, Math.min(ns, 1e9) / 1e6));
      this.wakeup = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** How the VM ended, once it has (poweroff or stop()). */
  get exited(): VmExit | null {
    return this.exit;
  }

  /**
   * Runs the harts round-robin for about `budgetNs` of host time (at least one turn each), handling guest
   * reboots. Returns early when every hart is idle (WFI, or stopped through HSM) or the VM has ended. This is
   * what a scheduler hands a time slice to; `run()` is the same loop for a VM that owns its thread.
   */
  runSlice(budgetNs: number): SliceResult {
    const link = this.cfg.smp?.link;
    if (!link) return this.runRounds(budgetNs);
    // while hart 0 runs, a hart in another thread that asks it for a remote fence waits until it is served
    // (SmpLink.awaitFences): going on at once would let hart 0 use a stale TLB entry to a page being freed
    link.setRunning(0, true);
    try {
      return this.runRounds(budgetNs);
    } finally {
      link.setRunning(0, false);
    }
  }

  private runRounds(budgetNs: number): SliceResult {
    const harts = this.harts;
    const start = this.clock.nowNs();
    let instructions = 0;
    for (;;) {
      if (this.exit) return { instructions, idle: false, exit: this.exit, elapsedNs: this.clock.nowNs() - start };
      if (this.resetRequested) {
        this.resetRequested = false;
        this.boot();
      }
      // before the harts run, so an interrupt a device timer raises is taken in this same round
      for (const v of this.virtio) v.pollTimer();
      if (this.cfg.smp) this.serveSmp();
      let ran = 0;
      for (let i = 0; i < harts.length; i++) {
        if (!this.runnable(i)) continue;
        const h = harts[i];
        h.stop = false;
        ran += h.run(SLICE);
        h.s[S.RES_VALID] = 0; // another hart runs next: a reservation cannot survive its stores
        if (h.stuck) this.finish({ kind: 'crashed', reason: stuckReason(i, h.stuck) });
        if (this.exit || this.resetRequested) break;
      }
      this.rtc.poll();
      instructions += ran;
      const elapsedNs = this.clock.nowNs() - start;
      if (this.exit) return { instructions, idle: false, exit: this.exit, elapsedNs };
      if (this.resetRequested && elapsedNs < budgetNs) continue; // a guest rebooting in a loop still yields
      if (ran === 0) {
        this.trimWhenIdle();
        return { instructions, idle: true, exit: null, elapsedNs };
      }
      if (elapsedNs >= budgetNs) return { instructions, idle: false, exit: null, elapsedNs };
    }
  }

  /**
   * An idle guest runs a few dozen code pages: every TRIM_INTERVAL_NS of idling, the decoded pages not
   * fetched from since the last trim are let go (their memory serves the other VMs of the host thread).
   */
  private trimWhenIdle(): void {
    const now = this.clock.nowNs();
    if (now - this.lastTrimNs < TRIM_INTERVAL_NS) return;
    this.lastTrimNs = now;
    this.trimmedPages += this.code.trim();
  }

  /** Runs the VM until the guest powers off or stop() is called; guest reboots restart it in place. */
  async run(): Promise<VmExit> {
    let lastYield = this.clock.nowNs();
    for (;;) {
      const r = this.runSlice(YIELD_NS);
      if (r.exit) return r.exit;
      if (r.idle) {
        await this.sleep(this.idleForNs());
        lastYield = this.clock.nowNs();
      } else if (this.clock.nowNs() - lastYield >= YIELD_NS) {
        await new Promise<void>((r) => setTimeout(r, 0));
        lastYield = this.clock.nowNs();
      }
    }
  }
}

/**
 * The kernel and the firmware laid out in RAM and checked apart; with firmware 'none' the kernel is laid out
 * as firmware is (where its ELF is linked, or a raw binary at the RAM base), since it runs in M-mode itself.
 */
function layoutImages(kernel: BootImage, firmware: Firmware | undefined, flash: boolean): { kernel: KernelImage; firmware?: LoadedFirmware } {
  // no kernel: the next stage is what flash bank 0 holds (EDK2), executed in place
  if (flash && imageSize(kernel) === 0) {
    const bank0 = { format: 'raw' as const, pieces: [], entryOffset: FLASH_BASE - RAM_BASE, endOffset: 0 };
    if (firmware === undefined || firmware === 'none') return { kernel: bank0, firmware };
    return { kernel: bank0, firmware: parseFirmware(firmware, RAM_BASE) };
  }
  if (firmware === undefined) return { kernel: parseKernelImage(kernel, RAM_BASE) };
  if (firmware === 'none') return { kernel: parseFirmware(kernel, RAM_BASE), firmware };
  const k = parseKernelImage(kernel, RAM_BASE);
  const fw = parseFirmware(firmware, RAM_BASE);
  checkApart(fw, k);
  return { kernel: k, firmware: fw };
}

/** Firmware and kernel must not overlap in RAM: the kernel would overwrite the firmware (or the reverse). */
function checkApart(fw: KernelImage, kernel: KernelImage): void {
  for (const f of fw.pieces) {
    for (const k of kernel.pieces) {
      if (f.offset < k.offset + k.memsz && k.offset < f.offset + f.memsz) {
        throw new BootError(`the firmware (RAM + 0x${f.offset.toString(16)} to 0x${(f.offset + f.memsz).toString(16)}) overlaps the kernel at RAM + 0x${k.offset.toString(16)}`);
      }
    }
  }
}

/** What firmware would leave behind for an S-mode kernel: PMP open, traps and interrupts delegated. */
export function prepareSupervisorHart(h: Hart): void {
  const s = h.s;
  s[S.PMPADDR] = -1; // NAPOT over all of physical memory
  s[S.PMPADDR + 1] = 0x3fffff;
  s[S.PMPCFG] = (3 << PMPCFG.A_SHIFT) | PMPCFG.R | PMPCFG.W | PMPCFG.X;
  h.mmu.pmp.update();
  s[S.MEDELEG] = 0xb1ff; // all exceptions but ecalls from S and M
  s[S.MIDELEG] = S_INTERRUPTS;
  s[S.MCOUNTEREN] = 7; // cycle, time, instret
  // OpenSBI also opens the counters to U-mode (scounteren = 7); Linux only sets scounteren through its SBI
  // PMU driver, which our SBI does not offer, and its vDSO reads `time` from user space.
  s[S.SCOUNTEREN] = 7;
  s[S.MENVCFG] = ENVCFG.CBIE | ENVCFG.CBCFE | ENVCFG.CBZE;
  s[S.MENVCFG + 1] = ENVCFG.HI_STCE;
  s[S.PRIV] = PRIV.S;
  h.mmu.flush();
}
