// The CLI commands that drive a running daemon through its API: ps, create, start, stop, pause, resume, rm,
// inspect, update. VMs are named by id, name, or a unique id prefix. `console` and `top` live in their own
// modules.
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LIMITS, type DiskConfig, type NicConfig, type VmInfo, type VmPatch } from '../api/actions.js';
import { parseCommandLine, parseSize, UsageError, type OptionSpec } from './args.js';
import { ApiClient, CLIENT_HELP, CLIENT_OPTIONS, ClientError, parseEndpoint } from './client.js';
import { apiRateLimiter, HOSTFWD_HELP, parseDiskOption, parseHostfwd, parseOpsRate, parseRate, type IoLimits } from './devices.js';
import { appendArgs, DEFAULT_CMDLINE, firmwareOption, flashOption, type DefaultGuestResolver } from './run.js';
import { bootFromDisk } from './disk-boot.js';
import { defaultCacheDir } from '../images/index.js';

/** A daemon command: its one-line summary, help text and entry point. */
export interface ClientCommand {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** Parses a command's own options plus --api/--token, answers --help, and connects the client. */
export function clientArgs(
  command: string, args: string[], options: Record<string, OptionSpec>, help: string,
): { values: Values; positionals: string[]; client: ApiClient } | null {
  const { values, positionals } = parseCommandLine(args, { ...options, ...CLIENT_OPTIONS, help: { type: 'boolean', short: 'h' } }, command);
  if (values.help) {
    process.stdout.write(help);
    return null;
  }
  const client = new ApiClient(parseEndpoint(values.api as string | undefined, values.token as string | undefined, command, values['token-file'] as string | undefined));
  return { values, positionals, client };
}

/** Finds a VM by exact id, exact name, or unique id prefix. */
export async function resolveVm(client: ApiClient, ref: string): Promise<VmInfo> {
  const all = await client.call<VmInfo[]>('GET', '/v1/vms');
  const exact = all.find((v) => v.id === ref) ?? all.find((v) => v.name === ref);
  if (exact) return exact;
  const prefixed = all.filter((v) => v.id.startsWith(ref));
  if (prefixed.length === 1) return prefixed[0];
  if (prefixed.length > 1) throw new ClientError(`'${ref}' matches ${prefixed.length} VMs (${prefixed.map((v) => v.id).join(', ')}); give more of the id`, 'ambiguous');
  throw new ClientError(`no VM named or with id '${ref}' (see 'tvisor ps')`, 'not_found', 404);
}

// ---- formatting ----

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function formatDuration(ns: number): string {
  const s = ns / 1e9;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Lays out rows under a header, columns separated by two spaces; `right` columns are right-aligned. */
export function table(header: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

function needVms(positionals: string[], command: string): string[] {
  if (positionals.length === 0) throw new UsageError(`name the VM (by name or id; see 'tvisor ps')`, command);
  return positionals;
}

export function parseWhole(text: string, option: string, command: string, min: number, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got '${text}'`, command);
  return n;
}

// ---- ps ----

const PS_HELP = `Usage: tvisor ps [options]

Lists the daemon's VMs: id, name, state, vCPUs, memory, weight and cap, CPU time used.

Options:
  -q, --quiet            print ids only
      --json             print the API's JSON
${CLIENT_HELP}
  -h, --help             show this help
`;

async function ps(args: string[]): Promise<number> {
  const a = clientArgs('ps', args, { quiet: { type: 'boolean', short: 'q' }, json: { type: 'boolean' } }, PS_HELP);
  if (!a) return 0;
  if (a.positionals.length > 0) throw new UsageError(`unexpected argument '${a.positionals[0]}'`, 'ps');
  const vms = await a.client.call<VmInfo[]>('GET', '/v1/vms');
  if (a.values.json) process.stdout.write(`${JSON.stringify(vms, null, 2)}\n`);
  else if (a.values.quiet) process.stdout.write(vms.map((v) => `${v.id}\n`).join(''));
  else {
    const rows = vms.map((v) => [
      v.id, v.name, v.state, String(v.config.vcpus), `${v.config.memory_mib} MiB`, String(v.config.weight),
      v.config.cap ? `${v.config.cap}%` : '-', formatDuration(v.stats.cpu_time_ns), formatBytes(v.stats.memory_touched_bytes),
    ]);
    process.stdout.write(table(['ID', 'NAME', 'STATE', 'VCPUS', 'MEMORY', 'WEIGHT', 'CAP', 'CPU TIME', 'TOUCHED'], rows, new Set([3, 4, 5, 6, 7, 8])));
  }
  return 0;
}

// ---- create ----

const CREATE_HELP = `Usage: tvisor create [NAME] [options]

Defines a VM on the daemon and prints its id; with --start it also boots it. Without --kernel, a first
--disk holding a system with kernels in its /boot (tvisor image build --distro debian) boots the newest
of them with its initrd (copied into the image cache; a kernel the guest installs later boots once the
VM is defined again), otherwise the default Debian guest is used (downloaded into the image cache on
first use; the daemon allows that directory by default). Paths are sent as absolute paths and must be
under the daemon's --allow-dir directories.

Options:
  --vcpus N              virtual CPUs, 1 to 8 (default ${LIMITS.vcpus.default}; --cpus is the same)
  --memory SIZE          guest RAM, e.g. 256M or 1G (default ${LIMITS.memory_mib.default}M, as tvisor run)
  --kernel PATH          RISC-V Linux Image or ELF kernel (default: the default guest's)
  --initrd PATH          initramfs (default: the default guest's, when --kernel is not given)
  --append ARGS          kernel arguments added to the command line, e.g. --append root=/dev/vda
  --cmdline CMDLINE      the whole kernel command line, replacing the daemon's default
                         (console=ttyS0 quiet earlycon=sbi cryptomgr.notests)
  --firmware PATH        M-mode firmware such as OpenSBI's fw_dynamic.bin (default: tvisor's own SBI);
                         'none': the kernel itself starts in M-mode on every hart (QEMU's -bios none)
  --flash PATH           firmware in flash bank 0 (0x20000000, read-only, run in place), e.g. EDK2's
                         RISCV_VIRT_CODE.fd; without --kernel, --firmware's OpenSBI starts it (no
                         default guest then)
  --flash-vars PATH      flash bank 1 (0x22000000), written back to PATH as the guest changes it, e.g.
                         a copy of RISCV_VIRT_VARS.fd (UEFI variables persist)
  --disk PATH[,readonly][,overlay=PATH][,bw=RATE][,iops=N]
                         a virtio disk (repeatable: vda, vdb…); bw= bytes per second (10M = 10 MiB/s),
                         iops= requests per second
  --nic auto|SETTINGS    a NIC on the daemon's virtual switch (repeatable); SETTINGS: mac=MAC, bw=RATE,
                         pps=N (frames per second, each direction), comma-separated
  --nic user[,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-:GUESTPORT]...[,SETTINGS]
                         user-mode networking to the host's network (passt on the daemon's host: DHCP,
                         DNS, NAT, the gateway maps to the host), with host ports forwarded in
  --weight N             CPU share under contention, 1-65535 (default 256)
  --cap PERCENT          most CPU the VM may use, in percent of one host CPU (default 0 = none)
  --start                boot it right away
${CLIENT_HELP}
  -h, --help             show this help

The name defaults to vm-XXXX (random). Example: tvisor create web --memory 512M --weight 512 --start
`;

const CREATE_OPTIONS = {
  vcpus: { type: 'string' },
  cpus: { type: 'string', aliasOf: 'vcpus' },
  memory: { type: 'string' },
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
  cmdline: { type: 'string' },
  firmware: { type: 'string' },
  flash: { type: 'string' },
  'flash-vars': { type: 'string' },
  disk: { type: 'string', multiple: true },
  nic: { type: 'string', multiple: true },
  weight: { type: 'string' },
  cap: { type: 'string' },
  start: { type: 'boolean' },
} as const;

/**
 * Parses `auto` (a port on the switch), `user` (user-mode networking) and settings `mac=MAC`, `bw=RATE`,
 * `pps=N`, `hostfwd=…` (with user), comma-separated.
 */
function parseNic(text: string): NicConfig {
  const nic: NicConfig = {};
  const limits: IoLimits = {};
  const bad = (why: string) => new UsageError(`--nic '${text}': ${why}`, 'create');
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (part === 'auto') continue;
    if (part === 'user' && nic.mode === undefined) nic.mode = 'user';
    else if (key === 'hostfwd' && eq > 0) {
      const f = parseHostfwd(value, bad);
      (nic.forwards ??= []).push({ proto: f.proto, host_addr: f.hostAddr, host_port: f.hostPort, guest_port: f.guestPort });
    } else if (key === 'mac' && eq > 0 && nic.mac === undefined) nic.mac = value;
    else if (key === 'bw' && eq > 0 && limits.bandwidth === undefined) limits.bandwidth = parseRate(value, '--nic bw=', 'create');
    else if (key === 'pps' && eq > 0 && limits.ops === undefined) limits.ops = parseOpsRate(value, '--nic pps=', 'create');
    else throw bad(`unknown or repeated setting '${part}' (expected auto, user, mac=MAC, bw=RATE, pps=N, ${HOSTFWD_HELP})`);
  }
  if (nic.forwards && nic.mode !== 'user') throw bad('hostfwd= needs user (a port on the virtual switch has nothing to forward from)');
  const rl = apiRateLimiter(limits);
  if (rl) nic.rate_limiter = rl;
  return nic;
}

function makeCreate(resolveDefault: DefaultGuestResolver) {
  return async function create(args: string[]): Promise<number> {
    const a = clientArgs('create', args, CREATE_OPTIONS, CREATE_HELP);
    if (!a) return 0;
    const v = a.values;
    if (a.positionals.length > 1) throw new UsageError(`unexpected argument '${a.positionals[1]}'`, 'create');
    const name = a.positionals[0] ?? `vm-${randomBytes(2).toString('hex')}`;
    // vcpus and memory_mib left out take the daemon's defaults, which are tvisor run's
    const body: Record<string, unknown> = { name };
    if (v.vcpus !== undefined) body.vcpus = parseWhole(v.vcpus as string, '--vcpus', 'create', LIMITS.vcpus.min, LIMITS.vcpus.max);
    if (v.memory !== undefined) {
      const memory = parseSize(v.memory as string, '--memory', 'create');
      if (memory % 2 ** 20 !== 0) throw new UsageError(`--memory must be a whole number of MiB, got '${v.memory}'`, 'create');
      body.memory_mib = memory / 2 ** 20;
    }
    const diskTexts = (v.disk as string[] | undefined) ?? [];
    // a first disk with a system on it boots its own kernel, as with tvisor run (disk-boot.ts)
    const flash = flashOption(v, 'create');
    // with flash, the firmware there finds its own bootloader on the disk
    const fromDisk = v.kernel === undefined && v.initrd === undefined && diskTexts.length > 0 && !flash
      ? await bootFromDisk(diskTexts[0], 'ttyS0', defaultCacheDir(), (line) => process.stderr.write(`${line}\n`))
      : null;
    if (fromDisk) {
      body.kernel = fromDisk.kernel;
      if (fromDisk.initrd) body.initrd = fromDisk.initrd;
      if (v.cmdline === undefined) body.cmdline = appendArgs(fromDisk.cmdline, v.append as string | undefined);
    } else if (v.kernel === undefined && !flash) {
      if (v.initrd !== undefined) throw new UsageError('--initrd needs --kernel (the default guest brings its own initramfs)', 'create');
      const g = await resolveDefault((line) => process.stderr.write(`${line}\n`));
      body.kernel = g.kernel;
      if (g.initrd) body.initrd = g.initrd;
    } else if (v.kernel !== undefined) {
      body.kernel = resolve(v.kernel as string);
      if (v.initrd !== undefined) body.initrd = resolve(v.initrd as string);
    } // else: firmware in flash, no kernel (flashOption checked the rest)
    // --append adds to the daemon's default command line (the same as tvisor run's), --cmdline replaces it
    if (body.cmdline === undefined && (v.cmdline !== undefined || v.append !== undefined)) body.cmdline = appendArgs((v.cmdline as string | undefined) ?? DEFAULT_CMDLINE, v.append as string | undefined);
    if (v.firmware !== undefined) body.firmware = firmwareOption(v.firmware as string);
    if (flash) body.flash = flash;
    const disks: DiskConfig[] = diskTexts.map((text) => {
      const d = parseDiskOption(text, 'create');
      if (d.serial !== undefined) throw new UsageError(`--disk '${text}': serial= is not supported by the daemon (its disks are named <vm>-vdX)`, 'create');
      const out: DiskConfig = { path: resolve(d.path), readonly: d.readOnly ?? false };
      if (d.overlay) out.overlay = resolve(d.overlay);
      const rl = apiRateLimiter(d.limits);
      if (rl) out.rate_limiter = rl;
      return out;
    });
    if (disks.length) body.disks = disks;
    const nics = ((v.nic as string[] | undefined) ?? []).map(parseNic);
    if (nics.length) body.nics = nics;
    if (v.weight !== undefined) body.weight = parseWhole(v.weight as string, '--weight', 'create', 1, 65535);
    if (v.cap !== undefined) body.cap = parseWhole(v.cap as string, '--cap', 'create', 0, 100 * 256);
    const vm = await a.client.call<VmInfo>('POST', '/v1/vms', body);
    if (v.start) await a.client.call('POST', `/v1/vms/${vm.id}/start`);
    process.stdout.write(`${vm.id}\n`);
    return 0;
  };
}

// ---- start / stop / pause / resume / restart / rm ----

function lifecycle(verb: 'start' | 'stop' | 'pause' | 'resume' | 'restart', summary: string, help: string): ClientCommand {
  const text = `Usage: tvisor ${verb} VM...

${help}

Options:
${CLIENT_HELP}
  -h, --help             show this help
`;
  return {
    summary,
    help: text,
    async run(args) {
      const a = clientArgs(verb, args, {}, text);
      if (!a) return 0;
      let status = 0;
      for (const ref of needVms(a.positionals, verb)) {
        try {
          const vm = await resolveVm(a.client, ref);
          const after = await a.client.call<VmInfo>('POST', `/v1/vms/${vm.id}/${verb}`);
          process.stdout.write(`${after.name} (${after.id}): ${after.state}\n`);
        } catch (e) {
          if (!(e instanceof ClientError) || a.positionals.length === 1) throw e;
          process.stderr.write(`tvisor: ${ref}: ${e.message}\n`);
          status = 1;
        }
      }
      return status;
    },
  };
}

const RM_HELP = `Usage: tvisor rm [options] VM...

Deletes VMs: their definitions are removed from the daemon and its state directory. Disk images are left
alone. A running or paused VM must be stopped first, or given --force.

Options:
  -f, --force            stop running or paused VMs first
${CLIENT_HELP}
  -h, --help             show this help
`;

async function rm(args: string[]): Promise<number> {
  const a = clientArgs('rm', args, { force: { type: 'boolean', short: 'f' } }, RM_HELP);
  if (!a) return 0;
  let status = 0;
  for (const ref of needVms(a.positionals, 'rm')) {
    try {
      const vm = await resolveVm(a.client, ref);
      if (a.values.force && (vm.state === 'running' || vm.state === 'paused')) await a.client.call('POST', `/v1/vms/${vm.id}/stop`);
      await a.client.call('DELETE', `/v1/vms/${vm.id}`).catch((e: unknown) => {
        throw e instanceof ClientError && e.code === 'conflict' && !a.values.force
          ? new ClientError(`${vm.name} is ${vm.state}: stop it first ('tvisor stop ${vm.name}'), or delete it anyway with 'tvisor rm -f ${vm.name}'`, e.code, e.status)
          : e;
      });
      process.stdout.write(`${vm.name} (${vm.id}): deleted\n`);
    } catch (e) {
      if (!(e instanceof ClientError) || a.positionals.length === 1) throw e;
      process.stderr.write(`tvisor: ${ref}: ${e.message}\n`);
      status = 1;
    }
  }
  return status;
}

// ---- inspect / update ----

const INSPECT_HELP = `Usage: tvisor inspect VM...

Prints a VM's definition, state and statistics as the API's JSON (an array when several VMs are named).

Options:
${CLIENT_HELP}
  -h, --help             show this help
`;

async function inspect(args: string[]): Promise<number> {
  const a = clientArgs('inspect', args, {}, INSPECT_HELP);
  if (!a) return 0;
  const refs = needVms(a.positionals, 'inspect');
  const out: VmInfo[] = [];
  for (const ref of refs) out.push(await a.client.call<VmInfo>('GET', `/v1/vms/${(await resolveVm(a.client, ref)).id}`));
  process.stdout.write(`${JSON.stringify(refs.length === 1 ? out[0] : out, null, 2)}\n`);
  return 0;
}

const UPDATE_HELP = `Usage: tvisor update VM [options]

Changes a VM live (and in its stored definition): its CPU weight and cap, and its balloon target.

Options:
  --weight N             CPU share under contention, 1-65535
  --cap PERCENT          most CPU in percent of one host CPU; 0 removes the cap
  --balloon SIZE         memory the guest is asked to give back, e.g. 128M; 0 deflates
${CLIENT_HELP}
  -h, --help             show this help
`;

async function update(args: string[]): Promise<number> {
  const a = clientArgs('update', args, { weight: { type: 'string' }, cap: { type: 'string' }, balloon: { type: 'string' } }, UPDATE_HELP);
  if (!a) return 0;
  const [ref, extra] = needVms(a.positionals, 'update');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}' (update one VM at a time)`, 'update');
  const patch: VmPatch = {};
  if (a.values.weight !== undefined) patch.weight = parseWhole(a.values.weight as string, '--weight', 'update', 1, 65535);
  if (a.values.cap !== undefined) patch.cap = parseWhole(a.values.cap as string, '--cap', 'update', 0, 100 * 256);
  if (a.values.balloon !== undefined) {
    const bytes = parseSize(a.values.balloon as string, '--balloon', 'update');
    if (bytes % 2 ** 20 !== 0) throw new UsageError(`--balloon must be a whole number of MiB, got '${a.values.balloon}'`, 'update');
    patch.balloon_mib = bytes / 2 ** 20;
  }
  if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give --weight, --cap or --balloon', 'update');
  const vm = await resolveVm(a.client, ref);
  const after = await a.client.call<VmInfo>('PATCH', `/v1/vms/${vm.id}`, patch);
  process.stdout.write(`${after.name} (${after.id}): weight ${after.config.weight}, cap ${after.config.cap ? `${after.config.cap}%` : 'none'}${balloonNote(after, patch.balloon_mib)}\n`);
  return 0;
}

/** What `update --balloon` did: the target set, and what the guest has given back so far. */
function balloonNote(vm: VmInfo, targetMib: number | undefined): string {
  if (targetMib === undefined) return '';
  const now = `the guest has given back ${vm.stats.balloon_mib} MiB so far`;
  const when = vm.state === 'running' ? `${now}; see 'tvisor inspect ${vm.name}'`
    : vm.state === 'paused' ? `${now}; it gives memory back once resumed` : 'the guest is asked at its next start';
  if (targetMib === 0) return `, balloon deflated (${when})`;
  return `, balloon target ${targetMib} MiB of ${vm.config.memory_mib} MiB (${when})`;
}

export function vmCommands(resolveDefault: DefaultGuestResolver): Record<string, ClientCommand> {
  return {
    ps: { summary: 'List the daemon\'s VMs', help: PS_HELP, run: ps },
    create: { summary: 'Define a VM on the daemon (and --start it)', help: CREATE_HELP, run: makeCreate(resolveDefault) },
    start: lifecycle('start', 'Boot VMs', 'Boots VMs that are created, stopped or crashed (a fresh boot).'),
    stop: lifecycle('stop', 'Power VMs off', 'Powers running or paused VMs off at once (like pulling the plug; disks are flushed).'),
    pause: lifecycle('pause', 'Pause VMs', 'Parks the vCPUs of running VMs; memory and devices stay as they are.'),
    resume: lifecycle('resume', 'Resume paused VMs', 'Lets paused VMs run again.'),
    restart: lifecycle('restart', 'Stop VMs and start them again', `Stops each VM and starts it again, like 'docker restart': a running or paused VM is powered off at once
(as by 'tvisor stop': the guest is not asked to shut down; disks are flushed) and booted afresh, so this
is a cold reset, not 'virsh reboot' (which asks the guest; inside the guest, 'reboot' does that). A VM
that is created, stopped or crashed is just started. Prints each VM's new state.`),
    rm: { summary: 'Delete VM definitions', help: RM_HELP, run: rm },
    inspect: { summary: 'Show a VM\'s definition, state and statistics', help: INSPECT_HELP, run: inspect },
    update: { summary: 'Change weight, cap or balloon of a VM live', help: UPDATE_HELP, run: update },
  };
}
