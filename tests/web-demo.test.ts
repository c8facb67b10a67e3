// VMs in a browser tab, no server-side emulation: `tvisor demo` serves the static build and the default guest's
// files; in Debian's chromium (headless, playwright-core) the page fetches them, boots two Debian guests in Web
// Workers under the page's own credit scheduler, and the console page shows both; a command typed into one's
// terminal runs there, and one pings the other through the tab's virtual switch. The page's figures (time to the shell, guest MIPS) are printed, and a screenshot saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cliPath, e2fsTool, tempDir } from './lib/toolchain.js';
import { killOnExit } from './lib/children.js';
import { ensureDefaultGuest } from '../src/images/index.js';
import { browserMissing, launchBrowser, pageErrors, screenshotDir } from './lib/browser.js';

const missing = browserMissing();
/** A deadline for a boot on a loaded machine, not a measurement. */
const LONG = 600_000;

let server: ChildProcess;
let url: string;
let log = '';
let browser: Browser;
/** The ext4 image the demo serves as its disk, and its digest (the tab must never change it). */
let disk: string;
let diskSha = '';
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  if (missing) return;
  await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  // a small ext4 disk with one file, made as Debian makes one (mke2fs -d)
  const work = tempDir('tvisor-web-demo-');
  mkdirSync(join(work, 'root'));
  writeFileSync(join(work, 'root', 'hello.txt'), 'hello from the host\n');
  disk = join(work, 'disk.img');
  const mk = spawnSync(e2fsTool('mke2fs')!, ['-q', '-F', '-t', 'ext4', '-d', join(work, 'root'), disk, '16M'], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  diskSha = sha(disk);
  server = killOnExit(spawn(process.execPath, [cliPath, 'demo', '--listen', '127.0.0.1:0', '--disk', disk], { stdio: ['ignore', 'ignore', 'pipe'] }));
  url = await new Promise<string>((resolve, reject) => {
    server.stderr!.on('data', (d) => {
      log += d;
      const m = /serving the in-browser demo at (\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
    server.once('exit', () => reject(new Error(`tvisor demo exited:\n${log}`)));
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** What a VM's terminal shows. */
async function terminalText(page: Page, id: string): Promise<string> {
  return page.locator(`.terminal[data-vm="${id}"] .xterm-rows`).innerText().catch(() => '');
}

async function waitForTerminal(page: Page, id: string, re: RegExp, what: string): Promise<void> {
  const end = Date.now() + LONG;
  for (;;) {
    const text = await terminalText(page, id);
    if (re.test(text)) return;
    const demo = await page.evaluate(() => window.tvisorDemo).catch(() => undefined);
    if (demo?.error) throw new Error(`the page failed: ${demo.error}`);
    if (Date.now() > end) throw new Error(`${what}: no ${re} in the terminal:\n${text}\n${log}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Types `line` and Enter into VM `id`'s terminal (selecting its row first, so its terminal shows). */
async function typeInto(page: Page, id: string, line: string): Promise<void> {
  await page.locator(`tr[data-vm="${id}"]`).click();
  await page.locator(`.terminal[data-vm="${id}"]`).click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

declare global {
  interface Window {
    tvisorDemo?: { vms: string[]; error?: string; imagesMs?: number; startedMs?: number; bytes?: number; api?: unknown; saved?: boolean; resumed?: boolean };
  }
}

test('the static build boots two Debian guests in the tab; a command typed into one runs there; they ping each other', { skip: missing }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = pageErrors(page);
  try {
    const r = await page.goto(`${url}?vms=2`);
    assert.equal(r?.headers()['cross-origin-embedder-policy'], 'require-corp');
    await page.waitForFunction(() => (window.tvisorDemo?.vms.length ?? 0) === 2 || window.tvisorDemo?.error, undefined, { timeout: LONG });
    const demo = await page.evaluate(() => window.tvisorDemo!);
    assert.equal(demo.error, undefined);
    const [first, second] = demo.vms;
    for (const id of [first, second]) await page.locator(`tr[data-vm="${id}"]`).waitFor({ timeout: LONG });
    await waitForTerminal(page, first, /\/ # /, 'the first guest\'s shell');
    const shellMs = await page.evaluate(() => performance.now());
    await typeInto(page, first, 'echo tab-$((6*7)) $(uname -m)');
    await waitForTerminal(page, first, /tab-42 riscv64/, 'the command\'s output');
    // the second guest boots beside it: its own terminal reaches its shell too
    await page.locator(`tr[data-vm="${second}"]`).click();
    await waitForTerminal(page, second, /\/ # /, 'the second guest\'s shell');
    const states = await page.locator('.vm-table tbody tr .state').allInnerTexts();
    assert.deepEqual(states, ['running', 'running']);
    // the tab's virtual switch: the second guest pings the first
    await typeInto(page, first, 'ifconfig eth0 10.9.0.1 netmask 255.255.255.0 up && echo net-$((1+1))-up');
    await waitForTerminal(page, first, /net-2-up/, 'the first guest\'s eth0');
    await typeInto(page, second, 'ifconfig eth0 10.9.0.2 netmask 255.255.255.0 up && ping -c 3 10.9.0.1');
    await waitForTerminal(page, second, /3 packets transmitted, 3 packets received, 0% packet loss/, 'the ping across the tab\'s switch');
    // both show in the host graph's data, each having run
    const ran = await page.waitForFunction((names) => {
      const u = (window as unknown as { tvisorCharts?: Record<string, { data: (number | null)[][]; series: { label?: string }[] }> }).tvisorCharts?.['host-cpu'];
      if (!u) return null;
      const cols = names.map((n) => u.data[u.series.findIndex((s) => s.label === n)] ?? []);
      return cols.every((c) => c.some((x) => (x ?? 0) > 1)) ? cols.map((c) => Math.max(...c.map((x) => x ?? 0))) : null;
    }, ['debian-1', 'debian-2'], { timeout: LONG, polling: 1000 });
    const peaks = (await ran.jsonValue()) as number[];
    process.stderr.write(`# in the tab: images (${((demo.bytes ?? 0) / 2 ** 20).toFixed(1)} MiB) in ${demo.imagesMs} ms, ` +
      `first shell ${Math.round(shellMs)} ms after navigation; peak CPU in the graph ${peaks.map((p) => `${p.toFixed(0)}%`).join(', ')}\n`);
    await page.screenshot({ path: join(screenshotDir(), 'web-demo.png'), fullPage: true });
    assert.deepEqual(errors(), [], 'the page logged no error');
  } finally {
    await page.close();
  }
});

test('the guest saved at its shell in the browser\'s storage is resumed by the next page, and answers', { skip: missing }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = pageErrors(page);
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.tvisorDemo?.saved || window.tvisorDemo?.error, undefined, { timeout: LONG });
    assert.equal(await page.evaluate(() => window.tvisorDemo?.error), undefined);
    await page.reload();
    await page.waitForFunction(() => (window.tvisorDemo?.vms.length ?? 0) > 0 || window.tvisorDemo?.error, undefined, { timeout: LONG });
    const demo = await page.evaluate(() => ({ resumed: window.tvisorDemo!.resumed, vms: window.tvisorDemo!.vms, error: window.tvisorDemo!.error }));
    assert.deepEqual(demo.error, undefined);
    assert.equal(demo.resumed, true, 'the second page resumed the saved guest');
    const [id] = demo.vms;
    await typeInto(page, id, 'echo resumed-$((1+1))');
    await waitForTerminal(page, id, /resumed-2/, 'the resumed guest\'s answer');
    const answeredMs = await page.evaluate(() => performance.now());
    process.stderr.write(`# in the tab: resumed from the browser's storage, the guest answered ${Math.round(answeredMs)} ms after navigation\n`);
    assert.deepEqual(errors(), [], 'the page logged no error');
  } finally {
    await page.close();
  }
});

test('a disk read in ranges under an overlay in the browser\'s storage: the guest\'s writes survive a reload', { skip: missing }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = pageErrors(page);
  try {
    await page.goto(`${url}?vms=0`);
    await page.waitForFunction(() => window.tvisorDemo?.api !== undefined || window.tvisorDemo?.error, undefined, { timeout: LONG });
    // created with the page's form: the default guest, the origin's disk, an overlay in OPFS
    const form = page.locator('form.create');
    await page.waitForFunction(() => /Debian/.test(document.querySelector('form.create .hint')?.textContent ?? ''), undefined, { timeout: LONG });
    await form.locator('input[name=name]').fill('keeper');
    await form.locator('input[name=memory]').fill('128');
    await form.locator('input[name=disk]').fill('/images/default/disk.img');
    await form.locator('input[name=overlay]').fill('/opfs/keeper-vda');
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-vm]', { hasText: 'keeper' });
    await row.waitFor({ timeout: LONG });
    const id = await row.getAttribute('data-vm');
    assert.ok(id);
    await row.click();
    await waitForTerminal(page, id, /\/ # /, 'the guest\'s shell');
    await typeInto(page, id, 'mkdir -p /d && mount /dev/vda /d && cat /d/hello.txt && echo kept-$((6*7)) > /d/kept.txt && umount /d && echo written-ok');
    await waitForTerminal(page, id, /hello from the host[\s\S]*written-ok/, 'the write to the disk');
    // a reload: the VM comes back (its definition from localStorage), boots, and finds what it wrote
    await page.reload();
    await page.waitForFunction((vm) => window.tvisorDemo?.vms.includes(vm) || window.tvisorDemo?.error, id, { timeout: LONG });
    assert.equal(await page.evaluate(() => window.tvisorDemo?.error), undefined);
    await page.locator(`tr[data-vm="${id}"]`).click();
    await waitForTerminal(page, id, /\/ # /, 'the guest\'s shell after the reload');
    await typeInto(page, id, 'mkdir -p /d && mount /dev/vda /d && cat /d/kept.txt /d/hello.txt && umount /d');
    await waitForTerminal(page, id, /kept-42\s+hello from the host/, 'the guest\'s file after the reload');
    assert.equal(sha(disk), diskSha, 'the image on the server was never written');
    assert.deepEqual(errors(), [], 'the page logged no error');
  } finally {
    await page.close();
  }
});

test('tvisor demo serves byte ranges of the guest files and nothing outside its build', { skip: missing }, async () => {
  const manifest = await (await fetch(`${url}images/manifest.json`)).json();
  const kernel = manifest.images[0].kernel as string;
  const part = await fetch(`${url}${kernel}`, { headers: { range: 'bytes=0-63' } });
  assert.equal(part.status, 206);
  const head = new Uint8Array(await part.arrayBuffer());
  assert.equal(head.length, 64);
  // a RISC-V Linux Image: "RISCV\0\0\0" at 48, "RSC\x05" at 56 (Documentation/arch/riscv/boot-image-header.rst)
  assert.equal(new TextDecoder().decode(head.subarray(56, 59)), 'RSC');
  assert.equal((await fetch(`${url}images/default/..%2f..%2fetc%2fpasswd`)).status, 404);
  assert.equal((await fetch(`${url}../../package.json`)).status, 404);
  assert.equal((await fetch(`${url}`, { method: 'POST' })).status, 405);
});
