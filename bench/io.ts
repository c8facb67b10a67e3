// I/O benchmark (`npm run bench:io`): the same Debian kernel and busybox initramfs under tvisor and under
// qemu-system-riscv64 (TCG), in one run: sequential write and read of a virtio-blk disk with `dd` in the
// guest (1 MiB blocks, fsync before the write counts as done, page cache dropped before the read), and TCP
// throughput between two VMs linked by a socket network (an HTTP GET from busybox httpd to wget; QEMU's
// -netdev socket on its side). The guests time themselves (guest time follows host time in both machines).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, freePort, hasTool } from '../tests/lib/toolchain.js';
import { ensureDefaultGuest, appendAutorun, type GuestImage } from '../src/images/index.js';
import { aptInstall, fail } from './lib.js';

const QEMU = 'qemu-system-riscv64';
const CMDLINE = 'console=ttyS0 quiet panic=-1';
const DISK_MIB = Number(process.env.IO_DISK_MIB ?? 64);
const NET_MIB = Number(process.env.IO_NET_MIB ?? 16);
const TIMEOUT_MS = 600_000;

// Debian's busybox dd prints no timing, so the scripts time with /proc/uptime (10 ms steps; the transfers
// take seconds) and print "LABEL: BYTES bytes in SECONDS s".
const TIMING = `now() { cut -d' ' -f1 /proc/uptime; }
report() { echo "$1: $2 bytes in $(awk "BEGIN { print $4 - $3 }") s"; }
`;

const DISK_SCRIPT = `set -e
${TIMING}a=$(now); dd if=/dev/zero of=/dev/vda bs=1M count=${DISK_MIB} conv=fsync 2>/dev/null; b=$(now)
report write ${DISK_MIB * 2 ** 20} $a $b
sync
echo 3 > /proc/sys/vm/drop_caches
a=$(now); dd if=/dev/vda of=/dev/null bs=1M count=${DISK_MIB} 2>/dev/null; b=$(now)
report read ${DISK_MIB * 2 ** 20} $a $b
`;

// Busybox nc moves data in small reads (about 3 MB/s even under QEMU), so the transfer is an HTTP GET from
// busybox httpd (file in tmpfs) to wget. The server VM serves until the benchmark stops it.
const netScript = (role: 'server' | 'client') => `set -e
${TIMING}ifconfig eth0 ${role === 'server' ? '10.9.0.1' : '10.9.0.2'} netmask 255.255.255.0 up
${role === 'server'
    ? `mkdir -p /www && dd if=/dev/zero of=/www/data bs=1M count=${NET_MIB} 2>/dev/null
echo ready > /www/ready
httpd -f -p 8080 -h /www`
    : `for i in $(seq 1 120); do wget -q -O /dev/null http://10.9.0.1:8080/ready 2>/dev/null && break; sleep 1; done
a=$(now); wget -q -O /dev/null http://10.9.0.1:8080/data; b=$(now)
report net ${NET_MIB * 2 ** 20} $a $b`}
`;

interface Run {
  status: number | null;
  out: string;
}

function run(cmd: string, args: string[], signal?: AbortSignal): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
    child.on('error', () => {}); // an abort is reported through 'close'
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

/** MB/s (10^6 bytes per second) from the guest's "LABEL: BYTES bytes in SECONDS s" line. */
function rate(r: Run, label: string, what: string): number {
  const m = new RegExp(`${label}: (\\d+) bytes in ([\\d.]+) s`).exec(r.out);
  if (r.status !== 0 || !m) fail(`${what} failed (status ${r.status}); output:\n${r.out.slice(-3000)}`);
  return Number(m[1]) / Number(m[2]) / 1e6;
}


interface Machine {
  name: string;
  disk(initrd: string, disk: string): Promise<Run>;
  /** Runs the client VM against a server VM, which is stopped when the client is done. */
  net(server: string, client: string, port: number): Promise<Run>;
}

function tvisor(guest: GuestImage): Machine {
  const base = (initrd: string) => [cliPath, 'run', '--kernel', guest.kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '512M'];
  return {
    name: 'tvisor',
    disk: (initrd, disk) => run(process.execPath, [...base(initrd), '--disk', disk]),
    async net(server, client, port) {
      const stop = new AbortController();
      const a = run(process.execPath, [...base(server), '--name', 'bench-a', '--net', `socket-listen=127.0.0.1:${port}`], stop.signal);
      await new Promise((r) => setTimeout(r, 500));
      const b = await run(process.execPath, [...base(client), '--name', 'bench-b', '--net', `socket-connect=127.0.0.1:${port}`]);
      stop.abort();
      await a;
      return b;
    },
  };
}

function qemu(guest: GuestImage): Machine {
  const base = (initrd: string) => ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-bios', guest.firmware,
    '-kernel', guest.kernel, '-initrd', initrd, '-append', CMDLINE];
  return {
    name: `${QEMU} (TCG)`,
    disk: (initrd, disk) => run(QEMU, [...base(initrd), '-drive', `file=${disk},format=raw,if=none,id=d0,cache=writeback`, '-device', 'virtio-blk-device,drive=d0']),
    async net(server, client, port) {
      const nic = (mac: string, netdev: string) => ['-netdev', `socket,id=n0,${netdev}`, '-device', `virtio-net-device,netdev=n0,mac=${mac}`];
      const stop = new AbortController();
      const a = run(QEMU, [...base(server), ...nic('52:54:00:00:00:01', `listen=127.0.0.1:${port}`)], stop.signal);
      await new Promise((r) => setTimeout(r, 500));
      const b = await run(QEMU, [...base(client), ...nic('52:54:00:00:00:02', `connect=127.0.0.1:${port}`)]);
      stop.abort();
      await a;
      return b;
    },
  };
}

async function main(): Promise<void> {
  const guest = await ensureDefaultGuest({ log: (l) => console.log(l) });
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-io-'));
  try {
    const initrd = (name: string, script: string) => {
      const p = join(work, `${name}.cpio`);
      writeFileSync(p, appendAutorun(readFileSync(guest.initrd), script));
      return p;
    };
    const diskInitrd = initrd('disk', DISK_SCRIPT);
    const server = initrd('server', netScript('server'));
    const client = initrd('client', netScript('client'));
    console.log(`kernel:   Linux ${guest.kernelVersion}; 512 MiB, 1 hart; host ${cpus()[0]?.model ?? '?'}`);
    console.log(`disk:     dd ${DISK_MIB} MiB in 1 MiB blocks to/from /dev/vda (raw file on the host)`);
    console.log(`network:  ${NET_MIB} MiB over TCP between two VMs (HTTP GET, busybox httpd to wget), socket netdev on 127.0.0.1`);
    const machines = [tvisor(guest)];
    if (hasTool(QEMU) || aptInstall('qemu-system-misc', QEMU)) machines.push(qemu(guest));
    else console.log(`${QEMU} unavailable: no comparison`);
    const rows: [string, number, number, number][] = [];
    for (const m of machines) {
      const disk = join(work, 'disk.img');
      writeFileSync(disk, new Uint8Array(0));
      writeFileSync(disk, new Uint8Array(DISK_MIB * 2 ** 20 + 2 ** 20));
      console.log(`${m.name}: disk…`);
      const d = await m.disk(diskInitrd, disk);
      const write = rate(d, 'write', `${m.name} disk write`);
      const read = rate(d, 'read', `${m.name} disk read`);
      console.log(`${m.name}: network…`);
      const c = await m.net(server, client, await freePort());
      const net = rate(c, 'net', `${m.name} network`);
      rows.push([m.name, write, read, net]);
    }
    console.log('');
    console.log(`${''.padEnd(28)}${'disk write'.padStart(14)}${'disk read'.padStart(14)}${'VM-to-VM TCP'.padStart(16)}`);
    const f = (x: number) => `${x.toFixed(1)} MB/s`;
    for (const [name, w, r, n] of rows) console.log(`${name.padEnd(28)}${f(w).padStart(14)}${f(r).padStart(14)}${f(n).padStart(16)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
