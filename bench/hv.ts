// Hypervisor benchmark (`npm run bench:hv`): `tvisor serve` driven through its HTTP API, next to QEMU, in one
// run: (1) create-to-running latency and boot to poweroff, (2) host memory per idle VM beyond its guest RAM,
// (3) aggregate guest MIPS with 1 and 8 busy VMs on the same pCPUs (scheduler overhead), (4) how many idle VMs
// one daemon holds. Guests are the default Debian kernel and busybox initramfs (+ an /autorun.sh where needed).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, hasTool } from '../tests/lib/toolchain.js';
import { ensureDefaultGuest, appendAutorun, type GuestImage } from '../src/images/index.js';
import type { VmInfo } from '../src/api/actions.js';
import { DEFAULT_CMDLINE } from '../src/cli/run.js';
import { aptInstall, fail } from './lib.js';

const QEMU = 'qemu-system-riscv64';
/** The daemon's default guest command line (for QEMU too); panic=-1 so a panicking guest ends instead of hanging. */
const CMDLINE = `${DEFAULT_CMDLINE} panic=-1`;
const MiB = 2 ** 20;
const SECTIONS = ['latency', 'memory', 'sched', 'capacity'] as const;
type Section = (typeof SECTIONS)[number];

function envNumber(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(`${name} must be a positive number, got '${raw}'`);
  return n;
}

function memAvailableMib(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Sections from argv (`node dist/bench/hv.js memory sched`) or HV_SECTIONS=a,b; all by default. */
function chosenSections(): Set<Section> {
  const words = process.argv.slice(2).length > 0 ? process.argv.slice(2) : (process.env.HV_SECTIONS ?? '').split(',');
  const picked = words.map((w) => w.trim()).filter((w) => w !== '');
  for (const w of picked) if (!(SECTIONS as readonly string[]).includes(w)) fail(`unknown section '${w}' (known: ${SECTIONS.join(', ')})`);
  return new Set((picked.length > 0 ? picked : SECTIONS) as Section[]);
}

const CFG = {
  latencyRuns: envNumber('HV_LATENCY_RUNS', 3),
  latencyMib: envNumber('HV_LATENCY_MIB', 256),
  idleVms: envNumber('HV_IDLE_VMS', 8),
  idleMib: envNumber('HV_IDLE_MIB', 256),
  /** The packed daemon of the memory section (serve --vms-per-thread); 1 measures only a thread per VM. */
  vmsPerThread: envNumber('HV_VMS_PER_THREAD', 8),
  busyVms: envNumber('HV_BUSY_VMS', 8),
  busyMib: envNumber('HV_BUSY_MIB', 128),
  windowS: envNumber('HV_WINDOW_S', 10),
  schedPcpus: (process.env.HV_SCHED_PCPUS ?? '1,2').split(',').map(Number),
  maxVms: envNumber('HV_MAX_VMS', 64),
  capacityMib: envNumber('HV_CAPACITY_MIB', 128),
  capacityS: envNumber('HV_CAPACITY_SECONDS', 240),
  idleTimeoutS: envNumber('HV_IDLE_TIMEOUT_S', 300),
  rssLimitMib: envNumber('HV_RSS_LIMIT_MIB', Math.floor(memAvailableMib() * 0.75)),
};
for (const p of CFG.schedPcpus) if (!Number.isInteger(p) || p < 1) fail(`HV_SCHED_PCPUS must list whole numbers ≥ 1, got '${process.env.HV_SCHED_PCPUS}'`);

// ---- processes: every child is killed when the benchmark ends, however it ends ----

const children = new Set<ChildProcess>();
const workDirs: string[] = [];

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of workDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`bench: ${sig}: stopping every daemon and QEMU`);
    process.exit(130);
  });
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/** User + system CPU seconds of a process (all its threads). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15 of stat)
}

/** Busy and total CPU seconds of the whole host so far (/proc/stat), to see what else ran during a window. */
function hostCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((s, x) => s + x, 0); // user nice system idle iowait irq softirq steal
  return { busy: (total - f[3] - f[4]) / CLK_TCK, total: total / CLK_TCK };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = performance.now();
const progress = (line: string) => console.log(`[hv ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const fmtMs = (ms: number) => `${ms.toFixed(0)} ms`;
const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const fmtMib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

// ---- the daemon and its API ----

class Daemon {
  private constructor(readonly child: ChildProcess, readonly url: string, private readonly logText: () => string) {}

  static async start(pcpus: number, budgetMib: number, allowDirs: string[], stateDir: string, extra: DaemonExtra = {}): Promise<Daemon> {
    const args = [cliPath, 'serve', '--listen', '127.0.0.1:0', '--pcpus', String(pcpus), '--state-dir', stateDir,
      '--memory-budget', `${Math.ceil(budgetMib)}M`, ...allowDirs.flatMap((d) => ['--allow-dir', d]), ...(extra.args ?? [])];
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...extra.env } }));
    let log = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not start in 30 s:\n${log}`)), 30_000);
      child.stderr!.on('data', (d) => {
        log = (log + d).slice(-20_000);
        const m = /serving the API on (http:\/\/\S+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`the daemon exited (status ${code}):\n${log}`)));
    });
    return new Daemon(child, url, () => log);
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(): string {
    return this.logText();
  }

  async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    let r: Response;
    try {
      r = await fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`${method} ${path}: ${(e as Error).message}; daemon log:\n${this.log().slice(-3000)}`);
    }
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }

  async expect(status: number, method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.api(method, path, body);
    if (r.status !== status) throw new Error(`${method} ${path}: status ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json;
  }

  get(id: string): Promise<VmInfo> {
    return this.expect(200, 'GET', `/v1/vms/${id}`);
  }

  list(): Promise<VmInfo[]> {
    return this.expect(200, 'GET', '/v1/vms');
  }

  /** Creates and starts a VM; returns its id. */
  async launch(name: string, memoryMib: number, kernel: string, initrd: string): Promise<string> {
    const vm = await this.expect(201, 'POST', '/v1/vms', { name, vcpus: 1, memory_mib: memoryMib, kernel, initrd, cmdline: CMDLINE });
    await this.expect(200, 'POST', `/v1/vms/${vm.id}/start`);
    return vm.id as string;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** More `serve` arguments and environment for one daemon. */
interface DaemonExtra {
  args?: string[];
  env?: Record<string, string>;
}

async function withDaemon<T>(env: Env, pcpus: number, budgetMib: number, body: (d: Daemon) => Promise<T>, extra: DaemonExtra = {}): Promise<T> {
  const stateDir = mkdtempSync(join(env.work, 'state-'));
  const d = await Daemon.start(pcpus, budgetMib, [env.work, env.guest.dir], stateDir, extra);
  try {
    return await body(d);
  } finally {
    await d.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

// ---- waiting for VMs ----

interface Sample {
  t: number;
  cpuNs: number;
}

/** A VM is idle once it has run most of a boot and used < 5% of a host CPU over the last 2 s (WFI parks it). */
const IDLE_CPU_FRACTION = 0.05;
const IDLE_WINDOW_MS = 2000;

function isIdle(samples: Sample[], instructions: number, minInstructions: number): boolean {
  if (instructions < minInstructions || samples.length < 2) return false;
  const last = samples[samples.length - 1];
  let first: Sample | undefined;
  for (let i = samples.length - 2; i >= 0; i--) {
    if (last.t - samples[i].t >= IDLE_WINDOW_MS) {
      first = samples[i];
      break;
    }
  }
  if (!first) return false;
  return (last.cpuNs - first.cpuNs) / 1e6 / (last.t - first.t) < IDLE_CPU_FRACTION;
}

interface LaunchOptions {
  prefix: string;
  memoryMib: number;
  initrd: string;
  /** VMs booting at the same time (booting is CPU-bound: more than the pCPUs only slows each boot down). */
  concurrency: number;
  minInstructions: number;
  idleTimeoutS: number;
  /** Called before each launch: a reason to stop launching, or null. */
  stopReason(launched: number, booting: number): string | null;
  label: string;
  /** VMs already created and started, to wait for first. */
  already?: string[];
}

interface LaunchResult {
  idle: string[];
  stopReason: string;
  failed: boolean;
}

/** Creates and starts VMs, keeping `concurrency` booting, until stopReason says stop or a VM fails to idle. */
async function launchIdle(env: Env, d: Daemon, o: LaunchOptions): Promise<LaunchResult> {
  const booting = new Map<string, { started: number; samples: Sample[] }>();
  for (const id of o.already ?? []) booting.set(id, { started: performance.now(), samples: [] });
  const idle: string[] = [];
  let launched = booting.size;
  let stop: string | null = null;
  let failed = false;
  let lastReport = performance.now();
  for (;;) {
    while (stop === null && booting.size < o.concurrency) {
      stop = o.stopReason(launched, booting.size);
      if (stop !== null) break;
      try {
        const id = await d.launch(`${o.prefix}-${launched}`, o.memoryMib, env.guest.kernel, o.initrd);
        booting.set(id, { started: performance.now(), samples: [] });
        launched++;
      } catch (e) {
        stop = `VM ${launched + 1} could not be created or started: ${(e as Error).message}`;
        failed = true;
      }
    }
    if (booting.size === 0) break;
    await sleep(500);
    const now = performance.now();
    const infos = new Map((await d.list()).map((v) => [v.id, v]));
    for (const [id, b] of booting) {
      const v = infos.get(id);
      if (!v || v.state !== 'running') {
        booting.delete(id);
        stop ??= `VM ${v?.name ?? id} ended ${v?.state ?? 'missing'} while booting${v?.reason ? `: ${v.reason}` : ''}`;
        failed = true;
        continue;
      }
      b.samples.push({ t: now, cpuNs: v.stats.cpu_time_ns });
      if (isIdle(b.samples, v.stats.instructions, o.minInstructions)) {
        booting.delete(id);
        idle.push(id);
      } else if (now - b.started > o.idleTimeoutS * 1000) {
        booting.delete(id);
        stop ??= `VM ${v.name} did not reach idle within ${o.idleTimeoutS} s (HV_IDLE_TIMEOUT_S)`;
        failed = true;
      }
    }
    if (now - lastReport > 10_000) {
      lastReport = now;
      progress(`${o.label}: ${idle.length} idle, ${booting.size} booting, daemon RSS ${fmtMib(rssBytes(d.pid))}`);
    }
  }
  return { idle, stopReason: stop ?? 'done', failed };
}

/** Waits until every VM has retired at least `instructions` (then it is past its boot and in its workload). */
async function waitInstructions(d: Daemon, ids: string[], instructions: number, timeoutS: number, label: string): Promise<void> {
  const end = performance.now() + timeoutS * 1000;
  let lastReport = performance.now();
  for (;;) {
    const vms = (await d.list()).filter((v) => ids.includes(v.id));
    const bad = vms.find((v) => v.state !== 'running');
    if (bad) throw new Error(`VM ${bad.name} ended ${bad.state}${bad.reason ? `: ${bad.reason}` : ''}`);
    const behind = vms.filter((v) => v.stats.instructions < instructions).length;
    if (behind === 0) return;
    if (performance.now() > end) throw new Error(`${label}: ${behind} VM(s) still booting after ${timeoutS} s`);
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      progress(`${label}: ${ids.length - behind}/${ids.length} VMs past boot`);
    }
    await sleep(1000);
  }
}

// ---- QEMU ----

function qemuArgs(guest: GuestImage, initrd: string, memoryMib: number): string[] {
  return ['-M', 'virt', '-m', `${memoryMib}M`, '-smp', '1', '-nographic', '-bios', guest.firmware,
    '-kernel', guest.kernel, '-initrd', initrd, '-append', CMDLINE];
}

/** Spawn to the first guest instruction QEMU translates (its -d in_asm log gets its first block), in ms. */
async function qemuFirstCode(env: Env, initrd: string): Promise<number> {
  const log = join(env.work, 'qemu-in_asm.log');
  rmSync(log, { force: true });
  const start = performance.now();
  const child = track(spawn(QEMU, [...qemuArgs(env.guest, initrd, CFG.latencyMib), '-d', 'in_asm', '-D', log], { stdio: 'ignore' }));
  try {
    for (;;) {
      try {
        if (statSync(log).size > 0) return performance.now() - start;
      } catch {
        // not created yet
      }
      if (child.exitCode !== null) throw new Error(`${QEMU} exited with status ${child.exitCode} before running guest code`);
      if (performance.now() - start > 30_000) throw new Error(`${QEMU} wrote no in_asm log in 30 s`);
      await sleep(1);
    }
  } finally {
    child.kill('SIGKILL');
  }
}

/** Spawn to exit of a QEMU whose guest powers itself off, in ms. */
function qemuToPoweroff(env: Env, initrd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = track(spawn(QEMU, qemuArgs(env.guest, initrd, CFG.latencyMib), { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout!.on('data', (d) => (out = (out + d).slice(-5000)));
    child.stderr!.on('data', (d) => (out = (out + d).slice(-5000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      if (status === 0) resolve(performance.now() - start);
      else reject(new Error(`${QEMU} boot to poweroff failed (status ${status}):\n${out}`));
    });
  });
}

/** RSS of a QEMU process whose guest sits idle at its shell prompt. */
async function qemuIdleRss(env: Env, memoryMib: number): Promise<{ rss: number; cpuPercent: number }> {
  const child = track(spawn(QEMU, qemuArgs(env.guest, env.guest.initrd, memoryMib), { stdio: ['pipe', 'pipe', 'pipe'] }));
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${QEMU} did not reach the shell prompt in 180 s:\n${out.slice(-3000)}`)), 180_000);
      const seen = (d: Buffer) => {
        out = (out + d).slice(-20_000);
        const guestLine = out.indexOf('tvisor guest:');
        if (guestLine >= 0 && out.indexOf('# ', guestLine) >= 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', seen);
      child.stderr!.on('data', seen);
      child.once('exit', (code) => reject(new Error(`${QEMU} exited (status ${code}):\n${out.slice(-3000)}`)));
    });
    await sleep(3000);
    const c0 = cpuSeconds(child.pid!);
    await sleep(5000);
    const cpuPercent = ((cpuSeconds(child.pid!) - c0) / 5) * 100;
    return { rss: rssBytes(child.pid!), cpuPercent };
  } finally {
    child.kill('SIGKILL');
  }
}

// ---- the sections ----

interface Env {
  guest: GuestImage;
  work: string;
  qemu: boolean;
  /** initramfs whose /autorun.sh returns at once: the guest boots to init and powers off. */
  poweroffInitrd: string;
  /** initramfs whose /autorun.sh spins forever in the shell: a busy VM. */
  busyInitrd: string;
  /** Instructions the guest retires from reset to poweroff (measured in `latency`; an estimate otherwise). */
  bootInstructions: number;
  bootInstructionsMeasured: boolean;
}

async function latency(env: Env): Promise<void> {
  console.log(`\n== 1. VM create-to-running latency (${CFG.latencyMib} MiB, 1 vCPU; ${CFG.latencyRuns} run(s), median) ==`);
  progress(`host load average ${loadavg()}`);
  const first: { create: number; start: number; observed: number; estimated: number }[] = [];
  let poweroff = 0;
  await withDaemon(env, availableParallelism(), 4 * CFG.latencyMib, async (d) => {
    for (let r = 0; r < CFG.latencyRuns; r++) {
      const t = performance.now();
      const vm = await d.expect(201, 'POST', '/v1/vms', { name: `lat-${r}`, vcpus: 1, memory_mib: CFG.latencyMib, kernel: env.guest.kernel, initrd: env.guest.initrd, cmdline: CMDLINE });
      const created = performance.now();
      await d.expect(200, 'POST', `/v1/vms/${vm.id}/start`);
      const started = performance.now();
      let v: VmInfo;
      for (;;) {
        v = await d.get(vm.id);
        if (v.stats.instructions > 0) break;
        if (v.state !== 'running') throw new Error(`VM ended ${v.state} before running guest code: ${v.reason ?? ''}`);
        if (performance.now() - t > 60_000) throw new Error('the VM ran no guest code within 60 s');
        await sleep(2);
      }
      const observed = performance.now() - t;
      // instructions are reported when a slice ends: the first slice began about cpu_time_ns before that.
      const estimated = Math.max(started - t, observed - v.stats.cpu_time_ns / 1e6);
      first.push({ create: created - t, start: started - created, observed, estimated });
      progress(`tvisor run ${r + 1}: POST create ${fmtMs(created - t)}, POST start ${fmtMs(started - created)}, first slice reported at ${fmtMs(observed)}`);
      await d.expect(200, 'POST', `/v1/vms/${vm.id}/stop`);
      await d.expect(204, 'DELETE', `/v1/vms/${vm.id}`);
    }
    progress('tvisor: booting to init and poweroff…');
    const t = performance.now();
    const id = await d.launch('lat-poweroff', CFG.latencyMib, env.guest.kernel, env.poweroffInitrd);
    for (;;) {
      const v = await d.get(id);
      if (v.state === 'stopped') {
        poweroff = performance.now() - t;
        env.bootInstructions = v.stats.instructions;
        env.bootInstructionsMeasured = true;
        break;
      }
      if (v.state !== 'running') throw new Error(`boot to poweroff: VM ended ${v.state}: ${v.reason ?? ''}`);
      if (performance.now() - t > 300_000) throw new Error('boot to poweroff: not done in 300 s');
      await sleep(20);
    }
    progress(`tvisor: powered off after ${fmtS(poweroff)} (${(env.bootInstructions / 1e9).toFixed(2)} G instructions)`);
  });
  const qFirst: number[] = [];
  let qPoweroff = NaN;
  if (env.qemu) {
    for (let r = 0; r < CFG.latencyRuns; r++) qFirst.push(await qemuFirstCode(env, env.poweroffInitrd));
    progress(`${QEMU}: first guest code at ${qFirst.map(fmtMs).join(', ')}; booting to init and poweroff…`);
    qPoweroff = await qemuToPoweroff(env, env.poweroffInitrd);
  }
  const m = (k: keyof (typeof first)[number]) => median(first.map((f) => f[k]));
  console.log('');
  console.log(`${''.padEnd(46)}${'to first guest code'.padStart(22)}${'to guest poweroff'.padStart(20)}`);
  console.log(`${'tvisor serve (API, hypervisor SBI)'.padEnd(46)}${fmtMs(m('estimated')).padStart(22)}${fmtS(poweroff).padStart(20)}`);
  if (env.qemu) console.log(`${`${QEMU} -M virt (TCG, OpenSBI)`.padEnd(46)}${fmtMs(median(qFirst)).padStart(22)}${fmtS(qPoweroff).padStart(20)}`);
  console.log(`${'Firecracker (published figure, KVM, x86)'.padEnd(46)}${'-'.padStart(22)}${'≤ 125 ms to init'.padStart(20)}`);
  console.log(`tvisor: POST /v1/vms ${fmtMs(m('create'))}, POST start ${fmtMs(m('start'))}; first slice reported at ${fmtMs(m('observed'))} ` +
    '(instructions > 0 in GET /v1/vms/{id}); first guest code = that minus the CPU time charged by then.');
  console.log('tvisor from POST /v1/vms; QEMU from process spawn to the first block in its -d in_asm log (its reset ROM).');
  console.log('Poweroff: /autorun.sh returns at once, so init loads the virtio drivers, runs it and powers off; tvisor: state');
  console.log('"stopped" in GET (polled every 20 ms); QEMU: process exit. Firecracker: InstanceStart to guest /sbin/init,');
  console.log('tuned kernel, i3.metal (SPECIFICATION.md), not measured here.');
}

interface IdleMemory {
  rss0: number;
  rss1: number;
  touched: number;
  rssStart: number;
  touchedStart: number;
  idleCpu: number;
}

/** Boots HV_IDLE_VMS default guests to their idle shell in one daemon and reads its RSS and touched RAM. */
async function idleMemory(env: Env, label: string, extra: DaemonExtra): Promise<IdleMemory> {
  const n = CFG.idleVms;
  const pcpus = availableParallelism();
  const m: IdleMemory = { rss0: 0, rss1: 0, touched: 0, rssStart: 0, touchedStart: 0, idleCpu: 0 };
  progress(`${label}: host load average ${loadavg()}`);
  await withDaemon(env, pcpus, n * CFG.idleMib + 1024, async (d) => {
    await sleep(1000);
    m.rss0 = rssBytes(d.pid);
    progress(`${label}: daemon RSS with no VMs: ${fmtMib(m.rss0)}; booting ${n} VMs…`);
    // the first batch (as many as boot at a time) shows what a VM costs before its guest has run much
    const ids: string[] = [];
    for (let i = 0; i < Math.min(n, pcpus); i++) ids.push(await d.launch(`mem-${i}`, CFG.idleMib, env.guest.kernel, env.guest.initrd));
    await waitInstructions(d, ids, 1, 120, 'memory: first slices');
    m.rssStart = (rssBytes(d.pid) - m.rss0) / ids.length;
    m.touchedStart = (await d.list()).reduce((s, v) => s + v.stats.memory_touched_bytes, 0) / ids.length;
    progress(`${label}: ${ids.length} VMs started (each ran a slice): daemon RSS +${fmtMib(m.rssStart)} per VM, guest RAM touched ${fmtMib(m.touchedStart)} per VM`);
    const r = await launchIdle(env, d, {
      prefix: 'mem', memoryMib: CFG.idleMib, initrd: env.guest.initrd, concurrency: pcpus, already: ids,
      minInstructions: env.bootInstructions * 0.5, idleTimeoutS: CFG.idleTimeoutS, label: 'memory',
      stopReason: (launched) => (launched >= n ? 'done' : null),
    });
    if (r.failed || r.idle.length !== n) throw new Error(`memory: ${r.stopReason}`);
    // idle VMs let go of decoded code they no longer run every 2 s of idling
    await sleep(5000);
    m.rss1 = rssBytes(d.pid);
    m.touched = (await d.list()).reduce((s, v) => s + v.stats.memory_touched_bytes, 0);
    const c0 = cpuSeconds(d.pid);
    await sleep(5000);
    m.idleCpu = ((cpuSeconds(d.pid) - c0) / 5) * 100;
    progress(`${label}: ${n} VMs idle: daemon RSS ${fmtMib(m.rss1)}, guest RAM touched ${fmtMib(m.touched)}`);
  }, extra);
  return m;
}

async function memory(env: Env): Promise<void> {
  const n = CFG.idleVms;
  const pcpus = availableParallelism();
  const pack = CFG.vmsPerThread;
  console.log(`\n== 2. Host memory per idle VM (${n} VMs × ${CFG.idleMib} MiB, default guest idle at its shell; --pcpus ${pcpus}, ${pcpus} boot at a time) ==`);
  const runs: { label: string; m: IdleMemory }[] = [];
  runs.push({ label: 'tvisor serve (a thread per VM)', m: await idleMemory(env, 'a thread per VM', {}) });
  if (pack > 1) {
    runs.push({ label: `tvisor serve --vms-per-thread ${pack}`, m: await idleMemory(env, `--vms-per-thread ${pack}`, { args: ['--vms-per-thread', String(pack)] }) });
  }
  let q: { rss: number; cpuPercent: number } | null = null;
  if (env.qemu) {
    progress(`${QEMU}: booting the same guest (${CFG.idleMib} MiB) to its idle shell…`);
    q = await qemuIdleRss(env, CFG.idleMib);
  }
  console.log('');
  for (const { label, m } of runs) {
    console.log(`${label}: daemon RSS ${fmtMib(m.rss0)} with no VMs, ${fmtMib(m.rss1)} with ${n} idle VMs; guest RAM touched ${fmtMib(m.touched)} ` +
      `(${fmtMib(m.touched / n)} per VM); just after start ΔRSS ${fmtMib(m.rssStart)} per VM with ${fmtMib(m.touchedStart)} touched; ` +
      `host CPU while idle ${m.idleCpu.toFixed(1)}%`);
  }
  console.log(`${'host memory beyond guest RAM ((ΔRSS − touched)/N)'.padEnd(58)}${'per VM'.padStart(14)}${'ΔRSS/N'.padStart(14)}`);
  for (const { label, m } of runs) {
    const overhead = (m.rss1 - m.rss0 - m.touched) / n;
    console.log(`${label.padEnd(58)}${fmtMib(overhead).padStart(14)}${fmtMib((m.rss1 - m.rss0) / n).padStart(14)}   goal ≤ 10 MiB`);
  }
  if (q) {
    const touched = runs[0].m.touched;
    console.log(`${`${QEMU}: process RSS, one VM (guest RAM included)`.padEnd(58)}${''.padStart(14)}${fmtMib(q.rss).padStart(14)}`);
    console.log(`${`${QEMU}: RSS − tvisor's touched RAM per VM (estimate)`.padEnd(58)}${fmtMib(q.rss - touched / n).padStart(14)}`);
    console.log(`Host CPU while idle: ${QEMU} ${q.cpuPercent.toFixed(1)}% for one VM (over 5 s).`);
  }
  console.log(`${'Firecracker (published figure): VMM overhead'.padEnd(58)}${'≤ 5 MiB'.padStart(14)}`);
  console.log('RSS is VmRSS of /proc/PID/status (the daemon with all its VM threads). Touched RAM = sum of stats.memory_touched_bytes');
  console.log('(guest pages written at least once). QEMU\'s guest RAM use is not visible from outside, hence the estimate line.');
  console.log('A Node worker costs ~8 MiB before it holds a VM: packed VMs share that, and the memory one VM frees serves the others.');
}

interface Window {
  mips: number;
  perVm: number[];
  guestCpu: number;
  daemonCpu: number;
  /** Host CPUs busy with other processes than the daemon (other users of the machine skew the figures). */
  otherCpu: number;
}

/** Aggregate guest MIPS over HV_WINDOW_S seconds, from the instruction counters of one GET /v1/vms each side. */
async function measureWindow(d: Daemon, ids: string[]): Promise<Window> {
  const pick = (vs: VmInfo[]) => new Map(vs.filter((v) => ids.includes(v.id)).map((v) => [v.id, v.stats]));
  const a = pick(await d.list());
  const ta = performance.now();
  const ca = cpuSeconds(d.pid);
  const ha = hostCpu();
  await sleep(CFG.windowS * 1000);
  const b = pick(await d.list());
  const tb = performance.now();
  const cb = cpuSeconds(d.pid);
  const hb = hostCpu();
  const secs = (tb - ta) / 1000;
  const perVm = ids.map((id) => (b.get(id)!.instructions - a.get(id)!.instructions) / secs / 1e6);
  const guestCpu = ids.reduce((s, id) => s + (b.get(id)!.cpu_time_ns - a.get(id)!.cpu_time_ns), 0) / 1e9 / secs;
  return { mips: perVm.reduce((s, x) => s + x, 0), perVm, guestCpu, daemonCpu: (cb - ca) / secs,
    otherCpu: Math.max(0, (hb.busy - ha.busy - (cb - ca)) / secs) };
}

async function sched(env: Env): Promise<void> {
  const n = CFG.busyVms;
  console.log(`\n== 3. Scheduler overhead: aggregate guest MIPS, 1 vs ${n} busy VMs (${CFG.busyMib} MiB each; /autorun.sh: while :; do :; done) ==`);
  progress(`host load average ${loadavg()}`);
  // past boot: more instructions than a whole boot to poweroff, with a margin
  const pastBoot = env.bootInstructions * 1.15 + 100e6;
  const rows: [number, Window, Window][] = [];
  for (const pcpus of CFG.schedPcpus) {
    await withDaemon(env, pcpus, n * CFG.busyMib + 1024, async (d) => {
      progress(`--pcpus ${pcpus}: booting 1 busy VM…`);
      const first = await d.launch('busy-0', CFG.busyMib, env.guest.kernel, env.busyInitrd);
      await waitInstructions(d, [first], pastBoot, 300, `--pcpus ${pcpus}, 1 VM`);
      const one = await measureWindow(d, [first]);
      progress(`--pcpus ${pcpus}, 1 busy VM: ${one.mips.toFixed(1)} MIPS; booting ${n - 1} more (the first one paused meanwhile)…`);
      await d.expect(200, 'POST', `/v1/vms/${first}/pause`);
      const more: string[] = [];
      for (let i = 1; i < n; i++) more.push(await d.launch(`busy-${i}`, CFG.busyMib, env.guest.kernel, env.busyInitrd));
      await waitInstructions(d, more, pastBoot, (n * 60) / pcpus + 120, `--pcpus ${pcpus}, booting ${n - 1} more`);
      await d.expect(200, 'POST', `/v1/vms/${first}/resume`);
      await sleep(500);
      const many = await measureWindow(d, [first, ...more]);
      progress(`--pcpus ${pcpus}, ${n} busy VMs: ${many.mips.toFixed(1)} MIPS`);
      rows.push([pcpus, one, many]);
    });
  }
  console.log('');
  console.log(`${''.padEnd(12)}${'1 VM'.padStart(12)}${`${n} VMs`.padStart(12)}${'ratio'.padStart(8)}${`per-VM MIPS (${n})`.padStart(22)}` +
    `${`guest CPU 1/${n}`.padStart(16)}${`daemon CPU 1/${n}`.padStart(19)}${`others CPU 1/${n}`.padStart(18)}`);
  const skewed = (w: Window) => (w.daemonCpu + w.otherCpu > availableParallelism() - 0.15 ? '*' : '');
  for (const [p, one, many] of rows) {
    const min = Math.min(...many.perVm);
    const max = Math.max(...many.perVm);
    console.log(`${`--pcpus ${p}`.padEnd(12)}${`${one.mips.toFixed(1)} MIPS`.padStart(12)}${`${many.mips.toFixed(1)} MIPS`.padStart(12)}` +
      `${(many.mips / one.mips).toFixed(3).padStart(8)}${`${min.toFixed(1)} - ${max.toFixed(1)}`.padStart(22)}` +
      `${`${one.guestCpu.toFixed(2)} / ${many.guestCpu.toFixed(2)}`.padStart(16)}${`${one.daemonCpu.toFixed(2)} / ${many.daemonCpu.toFixed(2)}`.padStart(19)}` +
      `${`${one.otherCpu.toFixed(2)}${skewed(one)} / ${many.otherCpu.toFixed(2)}${skewed(many)}`.padStart(18)}`);
  }
  console.log(`MIPS = sum of stats.instructions deltas over ${CFG.windowS} s of wall time, once every VM is past its boot`);
  console.log(`(more than ${(pastBoot / 1e9).toFixed(2)} G instructions). Ratio = ${n} VMs / 1 VM (1.000 = no scheduling overhead).`);
  console.log('Guest CPU = sum of stats.cpu_time_ns per wall second; daemon CPU = the daemon\'s utime+stime per wall second;');
  console.log(`others CPU = host CPUs busy with other processes meanwhile (/proc/stat); "*" marks a window where daemon + others`);
  console.log(`wanted more than the host's ${availableParallelism()} CPUs, so the figure is skewed by other users of the machine.`);
}

async function capacity(env: Env): Promise<void> {
  const pcpus = availableParallelism();
  console.log(`\n== 4. Idle VMs one daemon holds (${CFG.capacityMib} MiB each, default guest idle at its shell; --pcpus ${pcpus}) ==`);
  progress(`host load average ${loadavg()}`);
  console.log(`limits: HV_MAX_VMS=${CFG.maxVms}, HV_CAPACITY_SECONDS=${CFG.capacityS} (launching time), HV_RSS_LIMIT_MIB=${CFG.rssLimitMib} ` +
    `(default 75% of MemAvailable), HV_IDLE_TIMEOUT_S=${CFG.idleTimeoutS}`);
  let result: LaunchResult | null = null;
  let rss0 = 0;
  let rss1 = 0;
  let running = 0;
  let idleCpu = 0;
  let elapsed = 0;
  await withDaemon(env, pcpus, CFG.maxVms * CFG.capacityMib + 1024, async (d) => {
    await sleep(1000);
    rss0 = rssBytes(d.pid);
    const start = performance.now();
    result = await launchIdle(env, d, {
      prefix: 'cap', memoryMib: CFG.capacityMib, initrd: env.guest.initrd, concurrency: pcpus,
      minInstructions: env.bootInstructions * 0.5, idleTimeoutS: CFG.idleTimeoutS, label: 'capacity',
      stopReason: (launched, booting) => {
        if (launched >= CFG.maxVms) return `reached the cap of ${CFG.maxVms} VMs (HV_MAX_VMS)`;
        if (performance.now() - start > CFG.capacityS * 1000) return `time budget of ${CFG.capacityS} s for launching used up (HV_CAPACITY_SECONDS)`;
        const rss = rssBytes(d.pid);
        const perVm = Math.max(CFG.capacityMib * MiB, launched > 0 ? (rss - rss0) / launched : 0);
        if (rss + (booting + 1) * perVm > CFG.rssLimitMib * MiB) return `daemon RSS ${fmtMib(rss)} near the limit of ${CFG.rssLimitMib} MiB (HV_RSS_LIMIT_MIB)`;
        return null;
      },
    });
    elapsed = performance.now() - start;
    await sleep(3000);
    const vms = await d.list();
    running = vms.filter((v) => v.state === 'running' && result!.idle.includes(v.id)).length;
    rss1 = rssBytes(d.pid);
    const c0 = cpuSeconds(d.pid);
    await sleep(5000);
    idleCpu = ((cpuSeconds(d.pid) - c0) / 5) * 100;
  });
  const r = result as LaunchResult | null;
  if (!r) return;
  const perVm = r.idle.length > 0 ? (rss1 - rss0) / r.idle.length : NaN;
  console.log('');
  console.log(`idle VMs held: ${running} (of ${r.idle.length} that reached idle) in ${fmtS(elapsed)}`);
  console.log(`stopped because: ${r.stopReason}`);
  console.log(`daemon RSS: ${fmtMib(rss0)} empty, ${fmtMib(rss1)} holding them (${fmtMib(perVm)} per idle VM, guest RAM included); ` +
    `MemAvailable now ${memAvailableMib().toFixed(0)} MiB`);
  console.log(`daemon CPU with ${running} idle VMs: ${idleCpu.toFixed(1)}% of one host CPU (over 5 s)`);
  if (Number.isFinite(perVm) && perVm > 0) {
    console.log(`estimate, not measured: the RSS limit of ${CFG.rssLimitMib} MiB would hold about ${Math.floor((CFG.rssLimitMib * MiB - rss0) / perVm)} such VMs`);
  }
  console.log(`A VM counts as idle once it has retired half a boot's instructions and used < ${IDLE_CPU_FRACTION * 100}% of a host CPU over ${IDLE_WINDOW_MS / 1000} s;`);
  console.log(`${pcpus} boot at a time (booting is CPU-bound).`);
}

async function main(): Promise<void> {
  const sections = chosenSections();
  const guest = await ensureDefaultGuest({ log: (l) => console.log(l) });
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-hv-'));
  workDirs.push(work);
  const initrd = (name: string, script: string) => {
    const p = join(work, `${name}.cpio`);
    writeFileSync(p, appendAutorun(readFileSync(guest.initrd), script));
    return p;
  };
  const qemu = sections.has('latency') || sections.has('memory') ? hasTool(QEMU) || aptInstall('qemu-system-misc', QEMU) : false;
  const env: Env = {
    guest, work, qemu,
    poweroffInitrd: initrd('poweroff', 'true\n'),
    busyInitrd: initrd('busy', 'while :; do :; done\n'),
    bootInstructions: 0.6e9, // the default guest boots to poweroff in ~0.7 G instructions (cryptomgr.notests)
    bootInstructionsMeasured: false,
  };
  console.log(`kernel:   Linux ${guest.kernelVersion}; cmdline "${CMDLINE}"; host ${cpus()[0]?.model ?? '?'}, ${availableParallelism()} CPUs, ` +
    `MemAvailable ${memAvailableMib().toFixed(0)} MiB`);
  console.log(`sections: ${[...sections].join(', ')}; settings: ${Object.entries(CFG).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (!qemu && (sections.has('latency') || sections.has('memory'))) console.log(`${QEMU} unavailable: no comparison`);
  try {
    if (sections.has('latency')) await latency(env);
    if (!env.bootInstructionsMeasured) console.log(`(boot length not measured: section latency skipped; assuming ${env.bootInstructions / 1e9} G instructions)`);
    if (sections.has('memory')) await memory(env);
    if (sections.has('sched')) await sched(env);
    if (sections.has('capacity')) await capacity(env);
    progress(`done; host load average ${loadavg()}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
