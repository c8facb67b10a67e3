// In-browser figures (`npm run bench:web`, issue 16): the web bundles' sizes; the time from starting to the
// default guest running its /autorun.sh — a Chromium tab loading `tvisor demo` (page, guest files, boot), next
// to `tvisor run` in Node and qemu-system-riscv64; and bench:guest's workload (sha256sum, gzip, a shell loop,
// timed by the guest) in the tab next to Node and QEMU, in one run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { AUTORUN_EXIT_PREFIX, appendAutorun, ensureDefaultGuest } from '../src/images/index.js';
import { DEFAULT_CMDLINE } from '../src/hypervisor/spec.js';
import { cliPath, repoRoot } from '../tests/lib/toolchain.js';
import { chromiumPath, launchBrowser } from '../tests/lib/browser.js';
import { QEMU, fail, parseBenchOptions, printTable, qemuAvailable, secs, timesQemu } from './lib.js';
import { MEMORY, PARTS, PART_TITLES, SCRIPT, best, parseRun, runOnce, type Result } from './guest.js';

const READY = 'tvisor-bench: ready';
const TIMEOUT_MS = 30 * 60_000;

/** Sizes of the bundles the pages load, raw and gzipped. */
function bundleSizes(): string[][] {
  const rows = [['bundle', 'size', 'gzipped']];
  for (const dir of ['dist/web/assets', 'dist/web/demo/assets']) {
    for (const f of readdirSync(join(repoRoot, dir)).filter((n) => /\.(js|css)$/.test(n))) {
      const bytes = readFileSync(join(repoRoot, dir, f));
      rows.push([`${dir.replace('dist/web/', '').replace('/assets', '')}/${f}`.replace(/^assets\//, 'console/'), kib(bytes.length), kib(gzipSync(bytes).length)]);
    }
  }
  return rows;
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

/** Seconds from spawning `cmd` until its output has `marker` (the process is then killed). */
function timeToMarker(cmd: string, args: string[], marker: string, who: string): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    const seen = (d: Buffer) => {
      out += d;
      if (!out.includes(marker)) return;
      const s = (performance.now() - start) / 1000;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(s);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('close', () => {
      if (!out.includes(marker)) fail(`${who}: ended without '${marker}'; output:\n${out.slice(-2000)}`);
    });
  });
}

/** `tvisor demo` serving `initrd` (the default guest's: as run), until stopped; its address. */
async function demoServer(initrd: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [cliPath, 'demo', '--listen', '127.0.0.1:0', '--initrd', initrd], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve) => {
    child.stderr!.on('data', (d) => {
      log += d;
      const m = /demo at (\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.on('close', () => fail(`tvisor demo ended:\n${log}`));
  });
  return { url, child };
}

/**
 * Loads the demo page (one VM of `memoryMib`) and collects its guest's console in the page until `marker`;
 * returns the output and the page's clock (ms since navigation) when it came.
 */
async function inTab(page: Page, url: string, memoryMib: number, marker: string): Promise<{ out: string; ms: number }> {
  await page.goto(`${url}?vms=1&memory=${memoryMib}`);
  await page.waitForFunction(() => (window as unknown as { tvisorDemo?: { vms: string[]; error?: string } }).tvisorDemo?.vms.length === 1
    || (window as unknown as { tvisorDemo?: { error?: string } }).tvisorDemo?.error, undefined, { timeout: TIMEOUT_MS });
  await page.evaluate(() => {
    const d = (window as unknown as { tvisorDemo: { vms: string[]; error?: string; out?: string; api: { console(id: string): { onmessage: (x: unknown) => void } } } }).tvisorDemo;
    if (d.error) throw new Error(d.error);
    d.out = '';
    const dec = new TextDecoder();
    d.api.console(d.vms[0]).onmessage = (x) => {
      if (typeof x !== 'string') d.out += dec.decode(x as Uint8Array, { stream: true });
    };
  });
  const done = await page.waitForFunction((m) => {
    const out = (window as unknown as { tvisorDemo: { out: string } }).tvisorDemo.out;
    return out.includes(m) ? { out, ms: performance.now() } : null;
  }, marker, { timeout: TIMEOUT_MS, polling: 50 });
  return (await done.jsonValue()) as { out: string; ms: number };
}

async function main(): Promise<void> {
  const opts = parseBenchOptions({
    script: 'bench:web',
    about: 'Prints the web bundles\' sizes; times the default guest from start to its /autorun.sh in a Chromium tab\n' +
      '(tvisor demo: page load, guest files, boot) next to tvisor run (Node) and QEMU; and times bench:guest\'s\n' +
      'workload inside the guest in the tab, in Node and in QEMU. Needs Debian\'s chromium.',
    runs: 1,
  });
  if (!chromiumPath()) fail('bench:web needs chromium (apt-get install chromium)');
  const withQemu = opts.qemu && qemuAvailable();
  const guest = await ensureDefaultGuest({ log: (l) => console.log(l) });
  const work = mkdtempSync(join(tmpdir(), 'tvisor-bench-web-'));
  const browser = await launchBrowser();
  try {
    console.log(`host:     ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`browser:  ${browser.version()}; best of ${opts.runs} run(s)\n`);
    printTable(bundleSizes());
    console.log('');

    // start to /autorun.sh
    const ready = join(work, 'ready.cpio');
    writeFileSync(ready, appendAutorun(readFileSync(guest.initrd), `echo "${READY}"\n`));
    const node = ['--kernel', guest.kernel, '--initrd', ready, '--memory', '128M'];
    const startRows: [string, number][] = [];
    const bestOf = async (who: string, f: () => Promise<number>) => {
      let b = Infinity;
      for (let i = 0; i < opts.runs; i++) b = Math.min(b, await f());
      console.log(`  ${who}: ${secs(b)}`);
      startRows.push([who, b]);
    };
    console.log('start to the guest\'s /autorun.sh (128 MiB, 1 hart):');
    const demo = await demoServer(ready);
    try {
      await bestOf('tvisor in a Chromium tab (page, files, boot)', async () => {
        const page = await browser.newPage();
        try {
          return (await inTab(page, demo.url, 128, READY)).ms / 1000;
        } finally {
          await page.close();
        }
      });
    } finally {
      demo.child.removeAllListeners('close');
      demo.child.kill();
    }
    await bestOf('tvisor run (Node)', () => timeToMarker(process.execPath, [cliPath, 'run', ...node], READY, 'tvisor run'));
    // the default guest saved at its shell by a first page, resumed by the next: until it answers a command
    const fast = await demoServer(guest.initrd);
    try {
      await bestOf('tvisor in a Chromium tab, resumed from its saved shell', async () => {
        const page = await browser.newPage();
        try {
          await page.goto(fast.url);
          await page.waitForFunction(() => (window as unknown as { tvisorDemo?: { saved?: boolean; error?: string } }).tvisorDemo?.saved
            || (window as unknown as { tvisorDemo?: { error?: string } }).tvisorDemo?.error, undefined, { timeout: TIMEOUT_MS });
          await page.reload();
          return await page.evaluate(async () => {
            const d = () => (window as unknown as { tvisorDemo?: { vms: string[]; resumed?: boolean; error?: string; api: { console(id: string): { onmessage: (x: unknown) => void; send(b: Uint8Array): void } } } }).tvisorDemo;
            while (!d()?.vms.length && !d()?.error) await new Promise((r) => setTimeout(r, 20));
            if (!d()!.resumed) throw new Error(`the page did not resume the saved guest${d()!.error ? `: ${d()!.error}` : ''}`);
            const c = d()!.api.console(d()!.vms[0]);
            let out = '';
            const dec = new TextDecoder();
            c.onmessage = (x) => {
              if (typeof x !== 'string') out += dec.decode(x as Uint8Array);
            };
            c.send(new TextEncoder().encode('echo answered-$((6*7))\n'));
            while (!out.includes('answered-42')) await new Promise((r) => setTimeout(r, 10));
            return performance.now() / 1000;
          });
        } finally {
          await page.close();
        }
      });
    } finally {
      fast.child.removeAllListeners('close');
      fast.child.kill();
    }
    if (withQemu) {
      await bestOf(`${QEMU} (TCG)`, () => timeToMarker(QEMU, ['-M', 'virt', '-m', '128M', '-smp', '1', '-nographic', '-bios', guest.firmware,
        '-kernel', guest.kernel, '-initrd', ready, '-append', DEFAULT_CMDLINE], READY, QEMU));
    }

    // the guest workload
    const bench = join(work, 'bench.cpio');
    writeFileSync(bench, appendAutorun(readFileSync(guest.initrd), SCRIPT));
    const rows: [string, Result][] = [];
    const mib = Number(MEMORY.replace('M', ''));
    const server = await demoServer(bench);
    try {
      const who = 'tvisor in a Chromium tab';
      rows.push([who, await best(opts.runs, who, async () => {
        const page = await browser.newPage();
        try {
          const r = await inTab(page, server.url, mib, AUTORUN_EXIT_PREFIX);
          // the exit line's status follows the prefix: wait for its line end
          const out = (await page.waitForFunction((m) => {
            const o = (window as unknown as { tvisorDemo: { out: string } }).tvisorDemo.out;
            return new RegExp(`${m}\\d+\\s`).test(o) ? o : null;
          }, AUTORUN_EXIT_PREFIX, { timeout: TIMEOUT_MS })).jsonValue() as Promise<string>;
          return parseRun(await out, r.ms / 1000, who);
        } finally {
          await page.close();
        }
      })]);
    } finally {
      server.child.removeAllListeners('close');
      server.child.kill();
    }
    const cmd = ['--kernel', guest.kernel, '--initrd', bench, '--memory', MEMORY];
    rows.push(['tvisor run (Node)', await best(opts.runs, 'tvisor run (Node)', () => runOnce(process.execPath, [cliPath, 'run', ...cmd], process.env, 'tvisor run'))]);
    let qemu: Result | undefined;
    if (withQemu) {
      const who = `${QEMU} (TCG)`;
      qemu = await best(opts.runs, who, () => runOnce(QEMU, ['-M', 'virt', '-m', MEMORY, '-smp', '1', '-nographic', '-bios', guest.firmware,
        '-kernel', guest.kernel, '-initrd', bench, '-append', 'console=ttyS0 quiet panic=-1'], process.env, who));
      rows.push([who, qemu]);
    }

    console.log('');
    const q = startRows.find(([w]) => w.startsWith(QEMU))?.[1];
    printTable([['start to /autorun.sh', 'seconds'], ...startRows.map(([w, s]) => [w, q === undefined ? secs(s) : `${secs(s)} (${timesQemu(s, q)})`])]);
    console.log('');
    const cell = (s: number, qs: number | undefined) => (qs === undefined ? secs(s) : `${secs(s)} (${timesQemu(s, qs)})`);
    printTable([['guest workload', ...PARTS.map((p) => PART_TITLES[p]), 'workload'],
      ...rows.map(([w, r]) => [w, ...PARTS.map((p) => cell(r.parts[p], qemu?.parts[p])), cell(r.workload, qemu?.workload)])]);
    console.log('');
    console.log('Workload times are the guest\'s own (/proc/uptime, 10 ms steps); (Nx) = N times QEMU\'s time. The tab\'s');
    console.log('start includes loading the page and fetching the guest\'s files from tvisor demo on this host.');
    for (const [w, r] of rows) if (r.answers.gzip !== rows[0][1].answers.gzip) fail(`gzip output sizes differ: ${rows[0][0]} vs ${w}`);
  } finally {
    await browser.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
