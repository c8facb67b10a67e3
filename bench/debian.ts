// A full Debian system side by side with QEMU (`npm run bench:debian`, issue 17 item 4): the image of
// `tvisor image build --distro debian` (tests/lib/debian.ts builds and caches it) booted under tvisor (--net
// user: passt) and qemu-system-riscv64 (TCG, -netdev user: slirp) with the same kernel, initrd, command line,
// memory and vCPUs, each through a throwaway overlay. Measured in the guest: systemd-analyze's start-up times,
// apt-get update and apt-get install of a small package from the Debian archive, and TCP throughput from the
// guest to a server of this process (bash's /dev/tcp into the NAT's address of the host); and, from the host,
// the time from start to the console's root shell.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootFromDisk } from '../src/cli/disk-boot.js';
import { defaultCacheDir } from '../src/images/node/guest.js';
import { debianImage, GuestShell } from '../tests/lib/debian.js';
import { cliPath } from '../tests/lib/toolchain.js';
import { QEMU, fail, parseBenchOptions, printTable, qemuAvailable, secs, timesQemu } from './lib.js';

const MEMORY_MIB = 1024;
const VCPUS = 2;
const TCP_MIB = 64;
const PACKAGE = 'hello';

interface Figures {
  /** Host seconds from start to the console's shell prompt. */
  toShell: number;
  /** systemd-analyze: kernel, initrd, userspace and their sum; multi-user.target reached (seconds). */
  kernel: number;
  initrd: number;
  userspace: number;
  total: number;
  aptUpdate: number;
  aptInstall: number;
  /** MiB/s guest → host. */
  tcp: number;
  /** Seconds of work an image build does (dpkg's and debootstrap's kind): a perl scan of the archive's package
   *  index, 300 fork+exec of /bin/true, and update-initramfs (find, cp, depmod, cpio, zstd). */
  perl: number;
  forks: number;
  initramfs: number;
}

/** The build-like steps: [label, command]. */
const WORK = [
  ['perl scan', "perl -ne '$n++ if /^Package: /; END { print \"$n\\n\" }' /var/lib/apt/lists/*_Packages"],
  ['300 fork+exec', 'for i in $(seq 300); do /bin/true; done'],
  ['update-initramfs', 'update-initramfs -u'],
] as const;

/** A server that counts the bytes of each connection; resolves each count when its sender closes. */
async function sink(): Promise<{ port: number; next(): Promise<number>; close(): void }> {
  const waiting: ((n: number) => void)[] = [];
  const server = createServer((socket) => {
    let n = 0;
    socket.on('data', (d) => (n += d.length));
    socket.on('end', () => waiting.shift()?.(n));
    socket.on('error', () => waiting.shift()?.(n));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    next: () => new Promise((r) => waiting.push(r)),
    close: () => server.close(),
  };
}

/** Seconds a guest command takes, by the guest's clock. */
async function timed(sh: GuestShell, command: string, ms = 1_800_000): Promise<number> {
  // braces: the command's own redirections (> /dev/tcp/…) stay its own
  const out = await sh.ok(`t0=$(date +%s.%N); { ${command}; } >/tmp/bench.log 2>&1 || { cat /tmp/bench.log; false; }; t1=$(date +%s.%N); echo "took $t0 $t1"`, ms);
  const m = /took (\d+\.\d+) (\d+\.\d+)/.exec(out);
  if (!m) fail(`no timing from '${command}':\n${out}`);
  return Number(m[2]) - Number(m[1]);
}

/** systemd-analyze's "Startup finished in 2.1s (kernel) + 5.0s (initrd) + 40.2s (userspace) = 47.3s". */
export function parseStartup(text: string): Pick<Figures, 'kernel' | 'initrd' | 'userspace' | 'total'> {
  const sec = (label: string): number => {
    const m = new RegExp(`((?:\\d+min )?[\\d.]+m?s) \\(${label}\\)`).exec(text);
    return m ? toSeconds(m[1]) : 0;
  };
  const total = /= ((?:\d+min )?[\d.]+m?s)/.exec(text);
  if (!total) fail(`systemd-analyze said no start-up time:\n${text}`);
  return { kernel: sec('kernel'), initrd: sec('initrd'), userspace: sec('userspace'), total: toSeconds(total[1]) };
}

function toSeconds(t: string): number {
  const m = /^(?:(\d+)min )?([\d.]+)(m?s)$/.exec(t.trim());
  if (!m) return NaN;
  return Number(m[1] ?? 0) * 60 + Number(m[2]) / (m[3] === 'ms' ? 1000 : 1);
}

async function measure(who: string, child: ChildProcess): Promise<Figures> {
  const start = performance.now();
  const sh = new GuestShell(child);
  const tcp = await sink();
  try {
    await sh.waitFor(/root@debian:~# /, 1_800_000);
    const toShell = (performance.now() - start) / 1000;
    await sh.ok('stty cols 1000; dmesg -n 1');
    await sh.run('systemctl is-system-running --wait', 900_000);
    const startup = parseStartup(await sh.ok('systemd-analyze'));
    const aptUpdate = await timed(sh, 'apt-get update -q');
    const aptInstall = await timed(sh, `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${PACKAGE}`);
    const gw = (await sh.ok("ip route show default | awk '{print $3; exit}'")).trim();
    const received = tcp.next();
    const seconds = await timed(sh, `head -c ${TCP_MIB}M /dev/zero > /dev/tcp/${gw}/${tcp.port}`);
    const bytes = await received;
    if (bytes !== TCP_MIB * 2 ** 20) fail(`${who}: the host received ${bytes} bytes of ${TCP_MIB} MiB`);
    const [perl, forks, initramfs] = [await timed(sh, WORK[0][1]), await timed(sh, WORK[1][1]), await timed(sh, WORK[2][1])];
    const status = new Promise<number | null>((r) => child.on('close', r));
    child.stdin!.write('poweroff\n');
    const code = await status;
    if (code !== 0) fail(`${who}: ended with status ${code} after poweroff`);
    return { toShell, ...startup, aptUpdate, aptInstall, tcp: TCP_MIB / seconds, perl, forks, initramfs };
  } finally {
    tcp.close();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const opts = parseBenchOptions({
    script: 'bench:debian',
    // the interpreter alone would take most of an hour to boot the system
    jit: ['on'],
    about: 'A Debian system (tvisor image build --distro debian) under tvisor and qemu-system-riscv64: time to the shell,\n' +
      `systemd-analyze, apt-get update and install of '${PACKAGE}', TCP throughput guest to host through user-mode networking;\n` +
      'then an image build\'s kind of work: a perl scan of the package index, 300 fork+exec, update-initramfs.',
  });
  const image = await debianImage((l) => console.log(l));
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-debian-'));
  try {
    // the disk's own kernel and initrd, found as tvisor run finds them (cli/disk-boot.ts), for QEMU's -kernel
    const files = await bootFromDisk(image.path, 'ttyS0', defaultCacheDir(), (l) => console.log(l));
    if (!files) fail(`${image.path} has no /boot`);
    const cmdline = files.cmdline;
    console.log(`${cpus().length} host CPUs (${cpus()[0]?.model}), load ${loadavg()[0].toFixed(1)}; guest ${MEMORY_MIB} MiB, ${VCPUS} vCPUs; Linux ${files.kernel.replace(/^.*vmlinux-/, '')}`);
    const results: [string, Figures][] = [];
    for (const mode of opts.jit) {
      for (let run = 0; run < opts.runs; run++) {
        const child = spawn(process.execPath, [
          cliPath, 'run', '--disk', `${image.path},overlay=${join(work, `ovl-${mode}-${run}`)}`, '--memory', `${MEMORY_MIB}M`,
          '--vcpus', String(VCPUS), '--net', 'user', '--jit', mode,
        ], { stdio: ['pipe', 'pipe', 'inherit'] });
        results.push([`tvisor --jit ${mode}`, await measure(`tvisor --jit ${mode}`, child)]);
      }
    }
    if (opts.qemu && qemuAvailable()) {
      for (let run = 0; run < opts.runs; run++) {
        const child = spawn(QEMU, [
          '-M', 'virt', '-m', `${MEMORY_MIB}M`, '-smp', String(VCPUS), '-nographic', '-kernel', files.kernel,
          ...(files.initrd ? ['-initrd', files.initrd] : []), '-append', cmdline,
          '-drive', `file=${image.path},format=raw,if=none,id=d0,snapshot=on`, '-device', 'virtio-blk-device,drive=d0',
          '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0',
        ], { stdio: ['pipe', 'pipe', 'inherit'] });
        results.push(['qemu (TCG)', await measure('qemu', child)]);
      }
    }
    const best = new Map<string, Figures>();
    for (const [label, f] of results) {
      const b = best.get(label);
      if (!b || f.total < b.total) best.set(label, f);
    }
    const qemu = best.get('qemu (TCG)');
    // systemd-analyze counts Debian's initramfs-tools initrd (no systemd in it) as kernel time: no initrd column
    const rows = [['', 'to shell', 'kernel', 'userspace', 'systemd total', 'apt-get update', `install ${PACKAGE}`, 'TCP to host']];
    for (const [label, f] of best) {
      rows.push([label, secs(f.toShell), secs(f.kernel), secs(f.userspace), secs(f.total), secs(f.aptUpdate), secs(f.aptInstall), `${f.tcp.toFixed(1)} MiB/s`]);
      if (qemu && f !== qemu) {
        rows.push(['  x QEMU', timesQemu(f.toShell, qemu.toShell), timesQemu(f.kernel, qemu.kernel),
          timesQemu(f.userspace, qemu.userspace), timesQemu(f.total, qemu.total), timesQemu(f.aptUpdate, qemu.aptUpdate),
          timesQemu(f.aptInstall, qemu.aptInstall), `${(qemu.tcp / f.tcp).toFixed(1)}x slower`]);
      }
    }
    printTable(rows);
    console.log('');
    const steps = [['', ...WORK.map(([label]) => label)]];
    for (const [label, f] of best) {
      steps.push([label, secs(f.perl), secs(f.forks), secs(f.initramfs)]);
      if (qemu && f !== qemu) steps.push(['  x QEMU', timesQemu(f.perl, qemu.perl), timesQemu(f.forks, qemu.forks), timesQemu(f.initramfs, qemu.initramfs)]);
    }
    printTable(steps);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
