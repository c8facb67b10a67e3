// Boot benchmark (`npm run bench:boot`): the same Debian kernel and busybox initramfs booted to init and to
// poweroff under tvisor (its own SBI, and Debian's OpenSBI) and under qemu-system-riscv64 (TCG), in one run.
// The initramfs is the default guest's plus an /autorun.sh that prints a marker and powers off.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, hasTool } from '../tests/lib/toolchain.js';
import { ensureDefaultGuest, appendAutorun } from '../src/images/index.js';
import { aptInstall, fail } from './lib.js';

const QEMU = 'qemu-system-riscv64';
const MARKER = 'tvisor-bench: init reached';
const CMDLINE = 'console=ttyS0 quiet panic=-1';
const RUNS = Number(process.env.BOOT_RUNS ?? 1);
const TIMEOUT_MS = 300_000;

interface Timing {
  init: number;
  poweroff: number;
}

/** Runs a command, timing the console marker and the process end (seconds). */
function timeBoot(cmd: string, args: string[]): Promise<Timing> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let init = NaN;
    child.stdout.on('data', (d) => {
      out += d;
      if (Number.isNaN(init) && out.includes(MARKER)) init = (performance.now() - start) / 1000;
    });
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      const poweroff = (performance.now() - start) / 1000;
      if (status !== 0 || Number.isNaN(init)) fail(`${cmd} ${args.join(' ')} failed (status ${status}); output:\n${out.slice(-3000)}`);
      resolve({ init, poweroff });
    });
  });
}

async function best(cmd: string, args: string[]): Promise<Timing> {
  let b: Timing = { init: Infinity, poweroff: Infinity };
  for (let i = 0; i < RUNS; i++) {
    const t = await timeBoot(cmd, args);
    b = { init: Math.min(b.init, t.init), poweroff: Math.min(b.poweroff, t.poweroff) };
  }
  return b;
}

async function main(): Promise<void> {
  const guest = await ensureDefaultGuest({ log: (l) => console.log(l) });
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-'));
  try {
    const initrd = join(work, 'bench.cpio');
    writeFileSync(initrd, appendAutorun(readFileSync(guest.initrd), `echo "${MARKER}"\n`));
    console.log(`kernel:   Linux ${guest.kernelVersion} (${guest.kernel})`);
    console.log(`initrd:   default guest initramfs + autorun (${(readFileSync(initrd).length / 2 ** 20).toFixed(1)} MiB)`);
    console.log(`cmdline:  ${CMDLINE}, 512 MiB, 1 hart; best of ${RUNS} run(s); host ${cpus()[0]?.model ?? '?'}`);
    const common = ['--kernel', guest.kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '512M'];
    const rows: [string, Timing][] = [];
    console.log('booting under tvisor (hypervisor SBI)…');
    rows.push(['tvisor, hypervisor SBI', await best(process.execPath, [cliPath, 'run', ...common])]);
    console.log('booting under tvisor (OpenSBI fw_dynamic)…');
    rows.push(['tvisor, OpenSBI', await best(process.execPath, [cliPath, 'run', ...common, '--firmware', guest.firmware])]);
    if (hasTool(QEMU) || aptInstall('qemu-system-misc', QEMU)) {
      console.log(`booting under ${QEMU} -M virt (OpenSBI)…`);
      const q = ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-bios', guest.firmware,
        '-kernel', guest.kernel, '-initrd', initrd, '-append', CMDLINE];
      rows.push([`${QEMU} (TCG), OpenSBI`, await best(QEMU, q)]);
    } else console.log(`${QEMU} unavailable: no comparison`);
    console.log('');
    console.log(`${''.padEnd(34)}${'boot to init'.padStart(14)}${'boot to poweroff'.padStart(18)}`);
    for (const [name, t] of rows) console.log(`${name.padEnd(34)}${(t.init.toFixed(2) + ' s').padStart(14)}${(t.poweroff.toFixed(2) + ' s').padStart(18)}`);
    const q = rows.find(([n]) => n.startsWith(QEMU));
    if (q) console.log(`\ntvisor (hypervisor SBI) takes ${(rows[0][1].poweroff / q[1].poweroff).toFixed(1)}x QEMU's time to poweroff.`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
