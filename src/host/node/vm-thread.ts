// The Node worker thread that holds one VM for the daemon: builds the machine and its devices from a
// VmThreadConfig, runs the time slices the manager's scheduler grants, and relays console output, network
// frames and wake-ups. Anything thrown here ends only this thread (and so only this VM).
import { parentPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Vm } from '../../core/machine/vm.js';
import { RAM_BASE } from '../../core/machine/board.js';
import { VirtioBlk } from '../../core/virtio/blk/blk.js';
import { VirtioNet, parseMac } from '../../core/virtio/net/net.js';
import { VirtioBalloon } from '../../core/virtio/balloon/balloon.js';
import { VirtioRng } from '../../core/virtio/rng/rng.js';
import type { VirtioDevice } from '../../core/virtio/mmio.js';
import type { BlockBackend } from '../../core/virtio/blk/backend.js';
import { openDiskImage } from './block-file.js';
import type { DeviceCounters, FromVm, ToVm, VmThreadConfig } from '../../hypervisor/protocol.js';
import { applyLimiterConfig, type RateLimiter } from '../../hypervisor/rate-limiter.js';
import { epochClock, monotonicClock, type Clock } from '../../core/host/clock.js';
import { SmpLink } from '../../core/machine/smp.js';

const port = parentPort;
if (!port) throw new Error('vm-thread runs as a worker thread');

const post = (m: FromVm, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);

let vm: Vm | null = null;
const disks: VirtioBlk[] = [];
const backends: BlockBackend[] = [];
const nics: { dev: VirtioNet; receive: ((f: Uint8Array) => void) | null }[] = [];
let balloon: VirtioBalloon | null = null;
let idle = false;
/** The VM's clock; rate limiters run on it too, so their times agree with the devices'. With harts in other
 *  threads it counts from an epoch they share (see epochClock). */
let clock: Clock = monotonicClock();
let link: SmpLink | null = null;
let epochMs = 0;
let stopped = false;
const nowMs = () => clock.nowNs() / 1e6;
/** Each disk's limiter, and each NIC's per direction (null = unlimited), kept to be reconfigured live. */
const diskLimiters: (RateLimiter | null)[] = [];
const nicLimiters: { tx: RateLimiter | null; rx: RateLimiter | null }[] = [];

function counters(): DeviceCounters {
  const c: DeviceCounters = {
    diskReadBytes: 0, diskWriteBytes: 0, diskReadOps: 0, diskWriteOps: 0,
    netRxBytes: 0, netTxBytes: 0, netRxFrames: 0, netTxFrames: 0, diskThrottled: 0, netThrottled: 0,
    balloonBytes: balloon?.returnedBytes ?? 0,
    memoryTouchedBytes: vm ? vm.ram.touchedBytes : 0,
  };
  for (const d of disks) {
    c.diskReadBytes += d.stats.readBytes;
    c.diskWriteBytes += d.stats.writeBytes;
    c.diskReadOps += d.stats.readOps;
    c.diskWriteOps += d.stats.writeOps;
    c.diskThrottled += d.stats.throttled;
  }
  for (const n of nics) {
    c.netRxBytes += n.dev.stats.rxBytes;
    c.netTxBytes += n.dev.stats.txBytes;
    c.netRxFrames += n.dev.stats.rxFrames;
    c.netTxFrames += n.dev.stats.txFrames;
    c.netThrottled += n.dev.stats.txThrottled + n.dev.stats.rxThrottled;
  }
  return c;
}

/** While hart 0 does not run, the device accesses of the other harts are served from the event loop. */
async function serveDoorbell(l: SmpLink): Promise<void> {
  const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
  while (!stopped && vm) {
    const seen = l.doorbell();
    vm.serveRemote();
    const w = waitAsync(l.i32, 0, seen);
    if (w.async) await w.value;
  }
}

function loadImages(cfg: VmThreadConfig): { kernel: Uint8Array; initrd?: Uint8Array; firmware?: Uint8Array } {
  return {
    kernel: new Uint8Array(readFileSync(cfg.kernel)),
    initrd: cfg.initrd ? new Uint8Array(readFileSync(cfg.initrd)) : undefined,
    firmware: cfg.firmware ? new Uint8Array(readFileSync(cfg.firmware)) : undefined,
  };
}

function init(cfg: VmThreadConfig): void {
  // harts 1… in threads of their own, on shared RAM (tvisor's SBI only; under firmware they share this one)
  if (cfg.vcpus > 1 && !cfg.firmware) {
    link = new SmpLink(cfg.vcpus);
    epochMs = performance.timeOrigin + performance.now();
    clock = epochClock(epochMs);
  }
  const devices: VirtioDevice[] = [];
  cfg.disks.forEach((spec, i) => {
    const backend = openDiskImage(spec);
    backends.push(backend);
    const limiter = applyLimiterConfig(null, spec.rateLimiter ?? null, nowMs());
    diskLimiters.push(limiter);
    const dev = new VirtioBlk({
      backend, serial: `${cfg.name}-vd${String.fromCharCode(97 + i)}`.slice(0, 20), name: `virtio-blk vd${String.fromCharCode(97 + i)}`,
      limiter: limiter ?? undefined,
    });
    disks.push(dev);
    devices.push(dev);
  });
  cfg.nics.forEach((mac, i) => {
    const entry: { dev: VirtioNet; receive: ((f: Uint8Array) => void) | null } = { dev: null!, receive: null };
    const limits = cfg.nicRateLimiters?.[i] ?? null;
    const limiters = { tx: applyLimiterConfig(null, limits, nowMs()), rx: applyLimiterConfig(null, limits, nowMs()) };
    nicLimiters.push(limiters);
    entry.dev = new VirtioNet({
      txLimiter: limiters.tx ?? undefined,
      rxLimiter: limiters.rx ?? undefined,
      mac: parseMac(mac),
      name: `virtio-net eth${i}`,
      backend: {
        send: (frame) => {
          const copy = frame.slice();
          post({ t: 'frame', nic: i, frame: copy }, [copy.buffer as ArrayBuffer]);
        },
        setReceiver: (fn) => (entry.receive = fn),
        close: () => {},
      },
    });
    nics.push(entry);
    devices.push(entry.dev);
  });
  devices.push(new VirtioRng((n) => new Uint8Array(randomBytes(n))));
  balloon = new VirtioBalloon({ ramBase: RAM_BASE, ramSize: cfg.memoryBytes });
  balloon.setTarget(cfg.balloonBytes);
  devices.push(balloon);
  vm = new Vm({
    memory: cfg.memoryBytes,
    cpus: cfg.vcpus,
    ...loadImages(cfg),
    // read again at a guest reboot rather than kept: tens of MiB per VM
    reloadImages: () => loadImages(cfg),
    cmdline: cfg.cmdline,
    console: (bytes) => {
      const copy = bytes.slice();
      post({ t: 'console', bytes: copy }, [copy.buffer as ArrayBuffer]);
    },
    random: (n) => new Uint8Array(randomBytes(n)),
    clock,
    devices,
    onDeviceEvent: (e) => post({ t: 'device-event', device: e.device, reason: e.reason, internal: e.internal }),
    smp: link ? { link, wake: (hart) => post({ t: 'wake', hart }) } : undefined,
  });
  vm.onWake = () => {
    if (idle) {
      idle = false;
      post({ t: 'wake' });
    }
  };
}

function close(): void {
  for (const b of backends.splice(0)) {
    try {
      b.close();
    } catch {
      // closing is best effort; the lock file is removed at exit too
    }
  }
}

port.on('message', (m: ToVm) => {
  switch (m.t) {
    case 'init':
      try {
        init(m.config);
        if (link && vm) {
          post({
            t: 'ready',
            smp: {
              memory: vm.ram.memory, touched: vm.ram.touchedBuffer as SharedArrayBuffer, link: link.buffer, mmio: vm.mmioLayout(), epochMs, ramBase: RAM_BASE,
              ramSize: m.config.memoryBytes, harts: m.config.vcpus,
            },
          });
          void serveDoorbell(link);
        } else post({ t: 'ready' });
        // the images are in guest RAM now: free their buffers (serve exposes gc to VM threads)
        (globalThis as { gc?: () => void }).gc?.();
      } catch (e) {
        close();
        post({ t: 'init-error', message: (e as Error).message });
      }
      break;
    case 'run': {
      if (!vm) return;
      vm.setStealTime(0, m.stealNs, false);
      const r = vm.runSlice(m.budgetNs);
      idle = r.idle;
      // out of its slice but still wanting to run: preempted (an idle vCPU is not)
      if (!r.idle && !r.exit) vm.setStealTime(0, m.stealNs, true);
      if (r.exit) close();
      post({
        t: 'slice',
        instructions: r.instructions,
        elapsedNs: r.elapsedNs,
        idle: r.idle,
        idleForNs: r.idle ? vm.idleForNs() : 0,
        exit: r.exit,
        counters: counters(),
      });
      break;
    }
    case 'input':
      vm?.sendInput(m.bytes);
      break;
    case 'frame':
      nics[m.nic]?.receive?.(m.frame);
      break;
    case 'balloon':
      balloon?.setTarget(m.bytes);
      break;
    case 'rate-limiter': {
      const now = nowMs();
      if (m.device === 'disk' && disks[m.index]) {
        diskLimiters[m.index] = applyLimiterConfig(diskLimiters[m.index], m.config, now);
        disks[m.index].setLimiter(diskLimiters[m.index]);
      } else if (m.device === 'nic' && nics[m.index]) {
        const l = nicLimiters[m.index];
        l.tx = applyLimiterConfig(l.tx, m.config, now);
        l.rx = applyLimiterConfig(l.rx, m.config, now);
        nics[m.index].dev.setLimiters(l.tx, l.rx);
      }
      break;
    }
    case 'stop':
      stopped = true;
      vm?.stop();
      close();
      post({ t: 'stopped' });
      break;
  }
});
