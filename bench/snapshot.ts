// Snapshot benchmark (`npm run bench:snapshot`, issue 15): the default guest (256 MiB, 1 hart) to a usable shell
// (a command typed at its banner answered) under `tvisor run` resumed from its saved start, under
// `tvisor run --cold-boot`, and under qemu-system-riscv64 booting the same kernel and initramfs (TCG, OpenSBI);
// then the daemon: a snapshot of the running guest (file size, how long the guest was paused), a VM restored
// from it to a command answered, and live migrations (to a thread of its own, and to a second daemon and back).
// One run prints the figures side by side.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../tests/lib/toolchain.js';
import { api, collectConsole, startDaemon, stopDaemon, typeLine, type Daemon } from '../tests/lib/daemon.js';
import { ensureDefaultGuest } from '../src/images/index.js';
import { DEFAULT_CMDLINE } from '../src/cli/run.js';
import { QEMU, fail, jitEnv, parseBenchOptions, printTable, qemuAvailable, secs, timesQemu } from './lib.js';

const BANNER = /tvisor guest: Linux/;
const TIMEOUT_MS = 300_000;

/** Seconds from process start until a command typed at the guest's banner is answered; the guest then powers off. */
function timeToShell(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let typed = false;
    let answered = NaN;
    child.stdout.on('data', (d) => {
      out += d;
      if (!typed && BANNER.test(out)) {
        typed = true;
        child.stdin.write('echo READY-$((6*7))\n');
      }
      if (Number.isNaN(answered) && /(^|\n)READY-42/.test(out)) {
        answered = (performance.now() - start) / 1000;
        child.stdin.write('poweroff\n');
      }
    });
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (e) => fail(`cannot start ${cmd}: ${e.message}`));
    child.on('close', () => {
      clearTimeout(timer);
      if (Number.isNaN(answered)) fail(`${cmd} ${args.join(' ')}: no shell; output:\n${out.slice(-3000)}`);
      resolve(answered);
    });
  });
}

async function best(runs: number, who: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let b = Infinity;
  for (let i = 1; i <= runs; i++) {
    console.log(`${who}${runs > 1 ? ` (${i}/${runs})` : ''}…`);
    b = Math.min(b, await timeToShell(cmd, args, env));
  }
  return b;
}

interface Migration {
  totalMs: number;
  downtimeMs: number;
  mib: number;
  rounds: number;
}

/** The best (least downtime) of `runs` migrations of VM `id` of `d`, within it or (`to`) to another daemon and back. */
async function migrations(d: Daemon, id: string, runs: number, to?: Daemon): Promise<Migration> {
  let best: Migration = { totalMs: Infinity, downtimeMs: Infinity, mib: 0, rounds: 0 };
  let where = { d, id };
  for (let i = 0; i < runs; i++) {
    const other = to && where.d === d ? to : d;
    const r = await api(where.d, 'POST', `/v1/vms/${where.id}/migrate`, to ? { to: other.url } : undefined);
    if (r.status !== 200) fail(`migrate: ${JSON.stringify(r.json)}`);
    if (r.json.downtime_ms < best.downtimeMs) best = { totalMs: r.json.total_ms, downtimeMs: r.json.downtime_ms, mib: r.json.bytes_sent / 2 ** 20, rounds: r.json.rounds };
    if (to) where = { d: other, id: r.json.vm.id };
    await new Promise((res) => setTimeout(res, 1000));
  }
  return best;
}

/** The daemon's figures: snapshot of a running default guest, a VM restored from it to a command answered, migrations. */
interface SnapshotFigures {
  bytes: number;
  pausedMs: number;
  restoreS: number;
  /** From POST /v1/vms to the restored guest's first instructions (GET /v1/vms/{id} polled). */
  runningS: number;
}

async function daemonFigures(work: string, guestDir: string, runs: number): Promise<{ plain: SnapshotFigures; packed: SnapshotFigures; local: Migration; remote: Migration }> {
  const d = await startDaemon(join(work, 'state'), ['--allow-dir', guestDir, '--allow-dir', work]);
  const d2 = await startDaemon(join(work, 'state2'), ['--allow-dir', guestDir, '--allow-dir', work]);
  try {
    const g = await ensureDefaultGuest({ log: () => {} });
    const vm = (await api(d, 'POST', '/v1/vms', { name: 'src', kernel: g.kernel, initrd: g.initrd })).json;
    const con = await collectConsole(d, vm.id);
    await api(d, 'POST', `/v1/vms/${vm.id}/start`);
    await con.waitFor(BANNER);
    await new Promise((r) => setTimeout(r, 2000)); // idle at its prompt
    let clones = 0;
    const snapshots = async (compress: boolean): Promise<SnapshotFigures> => {
      const f: SnapshotFigures = { bytes: 0, pausedMs: Infinity, restoreS: Infinity, runningS: Infinity };
      for (let i = 0; i < runs; i++) {
        const file = join(work, `src-${clones}.snap`);
        const s = await api(d, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: file, compress });
        if (s.status !== 200) fail(`snapshot: ${JSON.stringify(s.json)}`);
        f.bytes = s.json.bytes;
        f.pausedMs = Math.min(f.pausedMs, s.json.elapsed_ms);
        const t0 = performance.now();
        const c = (await api(d, 'POST', '/v1/vms', { snapshot: file, name: `clone${clones++}` })).json;
        const cc = await collectConsole(d, c.id);
        await api(d, 'POST', `/v1/vms/${c.id}/start`);
        while (!((await api(d, 'GET', `/v1/vms/${c.id}`)).json.stats.instructions > 0));
        f.runningS = Math.min(f.runningS, (performance.now() - t0) / 1000);
        await typeLine(d, c.id, 'echo READY-$((6*7))');
        await cc.waitFor(/(^|\n)READY-42/);
        f.restoreS = Math.min(f.restoreS, (performance.now() - t0) / 1000);
        cc.close();
        await api(d, 'POST', `/v1/vms/${c.id}/stop`);
      }
      return f;
    };
    const plain = await snapshots(false);
    const packed = await snapshots(true);
    con.close();
    const local = await migrations(d, vm.id, runs);
    const remote = await migrations(d, vm.id, runs, d2);
    return { plain, packed, local, remote };
  } finally {
    await stopDaemon(d);
    await stopDaemon(d2);
  }
}

async function main(): Promise<void> {
  const opts = parseBenchOptions({
    script: 'bench:snapshot',
    about: 'The default guest (256 MiB, 1 hart) to a usable shell: tvisor run resumed from its saved start, tvisor run\n' +
      `--cold-boot and ${QEMU} (TCG, OpenSBI) booting it; then the daemon's snapshot of the running guest and a\n` +
      'VM restored from it. Prints the figures side by side.',
    runs: 3,
  });
  const withQemu = opts.qemu && qemuAvailable();
  const guest = await ensureDefaultGuest({ log: (l) => console.log(l) });
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-snap-'));
  try {
    console.log(`kernel:   Linux ${guest.kernelVersion}; default guest, 256 MiB, 1 hart; best of ${opts.runs} run(s)`);
    console.log(`host:     ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const env = jitEnv('on');
    // the saved start exists after one run (made now if it does not)
    await timeToShell(process.execPath, [cliPath, 'run'], env);
    const resumed = await best(opts.runs, 'tvisor run (resumed from the saved start)', process.execPath, [cliPath, 'run'], env);
    const cold = await best(opts.runs, 'tvisor run --cold-boot', process.execPath, [cliPath, 'run', '--cold-boot'], env);
    let qemu: number | undefined;
    if (withQemu) {
      qemu = await best(opts.runs, `${QEMU} (TCG), OpenSBI`, QEMU, ['-M', 'virt', '-m', '256M', '-smp', '1', '-nographic', '-bios', guest.firmware,
        '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', DEFAULT_CMDLINE], process.env);
    }
    console.log('the daemon: snapshot and restore…');
    const dm = await daemonFigures(work, guest.dir, opts.runs);
    console.log('');
    const table = [['default guest to a command answered', 'wall time', qemu ? 'vs QEMU boot' : '']];
    table.push(['tvisor run, resumed from its saved start', secs(resumed), timesQemu(resumed, qemu)]);
    table.push(['tvisor run --cold-boot', secs(cold), timesQemu(cold, qemu)]);
    if (qemu) table.push([`${QEMU} (TCG), booting`, secs(qemu), '1.0x']);
    table.push(['daemon: restore from a snapshot (API to answer)', secs(dm.plain.restoreS), timesQemu(dm.plain.restoreS, qemu)]);
    table.push(['daemon: the same, its RAM compressed', secs(dm.packed.restoreS), timesQemu(dm.packed.restoreS, qemu)]);
    printTable(table);
    console.log('');
    const snap = (what: string, f: SnapshotFigures) => console.log(`daemon snapshot of the running guest at its prompt${what}: ${(f.bytes / 2 ** 20).toFixed(1)} MiB, the guest paused ${f.pausedMs.toFixed(0)} ms`);
    snap('', dm.plain);
    snap(', compressed', dm.packed);
    console.log(`daemon restore to the guest's first instructions (POST /v1/vms with the snapshot, start, polled): ${(dm.plain.runningS * 1000).toFixed(0)} ms; ` +
      `compressed: ${(dm.packed.runningS * 1000).toFixed(0)} ms`);
    const m = (what: string, x: Migration) => console.log(`live migration ${what}: ${x.rounds} rounds, ${x.mib.toFixed(1)} MiB copied, ` +
      `${x.totalMs.toFixed(0)} ms in all, the guest stopped ${x.downtimeMs.toFixed(0)} ms (issue 15's goal: <= 100 ms)`);
    m('to a thread of its own', dm.local);
    m('to another daemon on this machine', dm.remote);
    console.log('Wall time from process start (the daemon: from POST /v1/vms with the snapshot) until "echo READY" typed at the banner is answered.');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
