// Boot benchmark (`npm run bench:boot`): the same Debian kernel and busybox initramfs booted to init and to
// poweroff under tvisor with each JIT mode (its own SBI; with --opensbi also Debian's OpenSBI) and under
// qemu-system-riscv64 (TCG), in one run. The initramfs is the default guest's plus an /autorun.sh that prints a
// marker and powers off.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../tests/lib/toolchain.js';
import { ensureDefaultGuest, appendAutorun } from '../src/images/index.js';
import { QEMU, fail, jitEnv, parseBenchOptions, printTable, qemuAvailable, secs, timesQemu, tvisorLabel } from './lib.js';

const MARKER = 'tvisor-bench: init reached';
const CMDLINE = 'console=ttyS0 quiet panic=-1';
const TIMEOUT_MS = 300_000;
/** Issue 14's target for boot to a finished task under the JIT. */
const TARGET_TIMES_QEMU = 2.5;

interface Timing {
  init: number;
  poweroff: number;
}

/** Runs a command, timing the console marker and the process end (seconds). */
function timeBoot(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timing> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let init = NaN;
    child.stdout.on('data', (d) => {
      out += d;
      if (Number.isNaN(init) && out.includes(MARKER)) init = (performance.now() - start) / 1000;
    });
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (e) => fail(`cannot start ${cmd}: ${e.message}`));
    child.on('close', (status) => {
      clearTimeout(timer);
      const poweroff = (performance.now() - start) / 1000;
      if (status !== 0 || Number.isNaN(init)) fail(`${cmd} ${args.join(' ')} failed (status ${status}); output:\n${out.slice(-3000)}`);
      resolve({ init, poweroff });
    });
  });
}

async function best(runs: number, who: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timing> {
  let b: Timing = { init: Infinity, poweroff: Infinity };
  for (let i = 1; i <= runs; i++) {
    console.log(`booting under ${who}${runs > 1 ? ` (${i}/${runs})` : ''}…`);
    const t = await timeBoot(cmd, args, env);
    b = { init: Math.min(b.init, t.init), poweroff: Math.min(b.poweroff, t.poweroff) };
  }
  return b;
}

async function main(): Promise<void> {
  const opts = parseBenchOptions({
    script: 'bench:boot',
    about: 'Boots the default Debian kernel and busybox initramfs (512 MiB, 1 hart) to init and to poweroff\n' +
      `under tvisor with each JIT mode and under ${QEMU} -M virt (TCG, OpenSBI), and prints the times side by side.`,
    runs: Number(process.env.BOOT_RUNS ?? 1) || 1,
    extraFlags: { opensbi: 'also boot tvisor through Debian\'s OpenSBI (fw_dynamic), as QEMU does' },
  });
  const withQemu = opts.qemu && qemuAvailable();
  const guest = await ensureDefaultGuest({ log: (l) => console.log(l) });
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-'));
  try {
    const initrd = join(work, 'bench.cpio');
    writeFileSync(initrd, appendAutorun(readFileSync(guest.initrd), `echo "${MARKER}"\n`));
    console.log(`kernel:   Linux ${guest.kernelVersion} (${guest.kernel})`);
    console.log(`initrd:   default guest initramfs + autorun (${(readFileSync(initrd).length / 2 ** 20).toFixed(1)} MiB)`);
    console.log(`cmdline:  ${CMDLINE}, 512 MiB, 1 hart; best of ${opts.runs} run(s)`);
    console.log(`host:     ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const common = ['--kernel', guest.kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '512M'];
    const rows: [string, Timing][] = [];
    for (const mode of opts.jit) {
      const who = tvisorLabel(mode, 'hypervisor SBI');
      rows.push([who, await best(opts.runs, who, process.execPath, [cliPath, 'run', ...common], jitEnv(mode))]);
      if (opts.flags.opensbi) {
        const fw = tvisorLabel(mode, 'OpenSBI');
        rows.push([fw, await best(opts.runs, fw, process.execPath, [cliPath, 'run', ...common, '--firmware', guest.firmware], jitEnv(mode))]);
      }
    }
    let qemu: Timing | undefined;
    if (withQemu) {
      const who = `${QEMU} (TCG), OpenSBI`;
      const q = ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-bios', guest.firmware,
        '-kernel', guest.kernel, '-initrd', initrd, '-append', CMDLINE];
      qemu = await best(opts.runs, who, QEMU, q, process.env);
      rows.push([who, qemu]);
    }
    console.log('');
    const table = [['', 'boot to init', 'boot to poweroff', qemu ? 'poweroff vs QEMU' : '']];
    for (const [name, t] of rows) table.push([name, secs(t.init), secs(t.poweroff), timesQemu(t.poweroff, qemu?.poweroff)]);
    printTable(table);
    console.log('');
    console.log('Wall time from process start; "boot to init" is when the autorun script\'s marker reaches the console.');
    if (!qemu) return;
    for (const [name, t] of rows) {
      if (name.startsWith('tvisor --jit off') || !name.endsWith('hypervisor SBI')) continue;
      const ratio = t.poweroff / qemu.poweroff;
      console.log(`target (issue 14): boot to a finished task <= ${TARGET_TIMES_QEMU}x QEMU's time; ${name}: ${ratio.toFixed(1)}x, ${ratio <= TARGET_TIMES_QEMU ? 'met' : 'not met'}.`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
