// The daemon's web console in a real browser (Debian's chromium, headless, through playwright-core) against a
// real daemon and Debian guests: the page lists VMs created through the API; a VM's terminal shows the output
// of a command typed into it; a VM created with the page's form runs, and an API error shows under the form;
// a weight changed in the page shows in the host graph's data as the shares move (two busy guests on one
// pCPU); with a token, the page asks for it and its WebSocket carries it; other origins are refused.
// Screenshots of the page are saved (tests/lib/browser.ts says where) for the README.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { guestFixture, type GuestFixture } from './lib/guest.js';
import { request } from 'node:http';
import { startDaemon, stopDaemon, api, collectConsole, type Daemon } from './lib/daemon.js';
import { browserMissing, launchBrowser, pageErrors, screenshotDir } from './lib/browser.js';

const missing = browserMissing();
/** A deadline for things a loaded machine does slowly (a boot, a page's first sample), not a measurement. */
const LONG = 300_000;

let fx: GuestFixture;
let d: Daemon;
let browser: Browser;

before(async () => {
  if (missing) return;
  fx = await guestFixture('web');
  d = await startDaemon(join(fx.work, 'state'), ['--allow-dir', fx.work, '--allow-dir', fx.guest.dir]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  if (d) await stopDaemon(d);
});

async function create(name: string, initrd: string, start = true): Promise<string> {
  const r = await api(d, 'POST', '/v1/vms', { name, vcpus: 1, memory_mib: 128, kernel: fx.guest.kernel, initrd });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  if (start) assert.equal((await api(d, 'POST', `/v1/vms/${r.json.id}/start`)).status, 200);
  return r.json.id as string;
}

/**
 * Opens the console; `check` at the end of a test fails it on any error the page logged but those `expected`
 * (the browser logs every error answer a fetch got, e.g. a 409 the test provoked).
 */
async function openConsole(url = `${d.url}/`): Promise<{ page: Page; check(expected?: RegExp): void }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = pageErrors(page);
  await page.goto(url);
  return { page, check: (expected) => assert.deepEqual(errors().filter((e) => !expected?.test(e)), [], 'the page logged no other error') };
}

/** The graphs' data is read in the page (charts.ts exposes them as window.tvisorCharts). */
type ChartWindow = { tvisorCharts?: Record<string, { data: (number | null)[][]; series: { label?: string }[] }> };

/**
 * Waits until the mean CPU% of two VMs over the host graph's last five samples (both present in all five) sum
 * to more than `total` and have a ratio within `ratio`; returns those means.
 */
async function waitForShares(page: Page, names: [string, string], total: number, ratio: [number, number]): Promise<[number, number]> {
  const handle = await page.waitForFunction(([labels, sum, [lo, hi]]) => {
    const u = (window as unknown as ChartWindow).tvisorCharts?.['host-cpu'];
    if (!u) return null;
    const last = (label: string) => u.data[u.series.findIndex((x) => x.label === label)]?.slice(-5);
    const [a, b] = labels.map(last);
    if (!a || !b || a.length < 5 || [...a, ...b].some((x) => x === null)) return null;
    const mean = (xs: (number | null)[]) => xs.reduce((sum: number, x) => sum + (x as number), 0) / xs.length;
    const shares = [mean(a), mean(b)];
    const r = shares[0] / Math.max(shares[1], 1e-9);
    return shares[0] + shares[1] > sum && r >= lo && r <= hi ? shares : null;
  }, [names, total, ratio] as const, { timeout: LONG, polling: 1000 });
  return (await handle.jsonValue()) as [number, number];
}

/** The text a VM's terminal shows (xterm.js renders its rows into the DOM). */
async function terminalText(page: Page, id: string): Promise<string> {
  return page.locator(`.terminal[data-vm="${id}"] .xterm-rows`).innerText();
}

async function waitForTerminal(page: Page, id: string, re: RegExp, what: string): Promise<void> {
  const end = Date.now() + LONG;
  for (;;) {
    const text = await terminalText(page, id).catch(() => '');
    if (re.test(text)) return;
    if (Date.now() > end) throw new Error(`${what}: no ${re} in the terminal:\n${text}\n${d.log()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('the console lists the API\'s VMs, and a VM\'s terminal runs a command typed into it', { skip: missing }, async () => {
  const id = await create('web-shell', fx.guest.initrd);
  const idle = await create('web-idle', fx.guest.initrd, false);
  const { page, check } = await openConsole();
  try {
    const row = page.locator(`tr[data-vm="${id}"]`);
    await row.waitFor({ timeout: LONG });
    assert.match(await row.innerText(), /web-shell/);
    assert.match(await page.locator(`tr[data-vm="${idle}"]`).innerText(), /web-idle\s+created/);
    await page.waitForFunction((vm) => document.querySelector(`tr[data-vm="${vm}"] .state`)?.textContent === 'running', id, { timeout: LONG });
    await row.click();
    // the console replays the output kept since boot: the prompt shows once the guest reached it
    await waitForTerminal(page, id, /\/ # /, 'the shell prompt');
    await page.locator(`.terminal[data-vm="${id}"]`).click();
    await page.keyboard.type('echo web-$((6*7))-ok');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, id, /web-42-ok/, 'the command\'s output');
    // the host graph got samples with this VM in them (the push channel works)
    await page.waitForFunction(() => ((window as unknown as ChartWindow).tvisorCharts?.['host-cpu']?.data?.[0]?.length ?? 0) >= 2, undefined, { timeout: LONG });
    await page.screenshot({ path: join(screenshotDir(), 'web-console.png'), fullPage: true });
    check();
  } finally {
    await page.close();
  }
});

test('a VM created with the page\'s form runs; the daemon\'s error shows under the form', { skip: missing }, async () => {
  const { page, check } = await openConsole();
  try {
    const form = page.locator('form.create');
    // the default guest is offered: the daemon's image cache has it
    await page.waitForFunction(() => /Debian/.test(document.querySelector('form.create .hint')?.textContent ?? ''), undefined, { timeout: LONG });
    await form.locator('input[name=name]').fill('web-form');
    await form.locator('input[name=memory]').fill('128');
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-vm]', { hasText: 'web-form' });
    await row.waitFor({ timeout: LONG });
    const vm = (await api(d, 'GET', '/v1/vms')).json.find((v: { name: string }) => v.name === 'web-form');
    assert.ok(vm, 'the daemon has the VM');
    assert.equal(vm.config.memory_mib, 128);
    assert.equal(vm.state, 'running', 'started, as the form\'s "start it" asks by default');
    // the same name again: the daemon's conflict shows where the user acted
    await form.locator('input[name=name]').fill('web-form');
    await form.locator('button[type=submit]').click();
    await page.waitForFunction(() => /conflict: .*web-form/.test(document.querySelector('form.create .error')?.textContent ?? ''), undefined, { timeout: 60_000 });
    // stop it from its row; then delete (asks once more)
    await row.locator('button[data-verb=stop]').click();
    await row.locator('button[data-verb=delete]').waitFor({ timeout: LONG });
    await row.locator('button[data-verb=delete]').click();
    await row.locator('button[data-verb=delete]').click();
    await row.waitFor({ state: 'detached', timeout: 60_000 });
    assert.equal((await api(d, 'GET', `/v1/vms/${vm.id}`)).status, 404);
    check(/status of 409/);
  } finally {
    await page.close();
  }
});

test('a weight changed in the page moves the CPU shares in the host graph', { skip: missing }, async () => {
  const busy = fx.initrdWith('echo busy-start\nwhile :; do :; done\n', 'busy');
  const heavy = await create('web-heavy', busy, false);
  const light = await create('web-light', busy, false);
  const consoles = await Promise.all([heavy, light].map((id) => collectConsole(d, id)));
  for (const id of [heavy, light]) assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
  for (const c of consoles) await c.waitFor(/busy-start/);
  const { page, check } = await openConsole();
  try {
    // equal weights on one pCPU: about 1 : 1 once both loop
    const before = await waitForShares(page, ['web-heavy', 'web-light'], 40, [0.5, 2]);
    await page.locator(`tr[data-vm="${heavy}"]`).click();
    await page.locator('.panel input[name=weight]').fill('1024');
    await page.locator('.panel button[type=submit]').click();
    await page.waitForFunction((vm) => document.querySelector(`tr[data-vm="${vm}"] td:nth-child(5)`)?.textContent === '1024', heavy, { timeout: 60_000 });
    assert.equal((await api(d, 'GET', `/v1/vms/${heavy}`)).json.config.weight, 1024);
    // 1024 : 256 is 4 : 1; the graph shows at least 2 : 1 over five samples
    const after = await waitForShares(page, ['web-heavy', 'web-light'], 30, [2, Infinity]);
    process.stderr.write(`# CPU in the host graph, mean of 5 samples: equal weights ${before.map((x) => x.toFixed(1)).join(' : ')}; ` +
      `after 1024 : 256 ${after.map((x) => x.toFixed(1)).join(' : ')}\n`);
    await page.screenshot({ path: join(screenshotDir(), 'web-console-weights.png'), fullPage: true });
    check();
  } finally {
    await page.close();
    for (const c of consoles) c.close();
    for (const id of [heavy, light]) await api(d, 'POST', `/v1/vms/${id}/stop`);
  }
});

test('requests from other origins are refused; the page and its assets carry a strict policy', { skip: missing }, async () => {
  const page = await fetch(`${d.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  const html = await page.text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'the page loads its script from /assets/');
  assert.equal((await fetch(`${d.url}${script}`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await fetch(`${d.url}/assets/..%2fsrc%2fcli%2fmain.js`)).status, 404);
  assert.equal((await fetch(`${d.url}/assets/nothing.js`)).status, 404);
  assert.equal((await fetch(`${d.url}/`, { method: 'POST' })).status, 405);
  const evil = await fetch(`${d.url}/v1/vms`, { headers: { origin: 'http://evil.example' } });
  assert.equal(evil.status, 403);
  assert.equal((await evil.json()).error.code, 'forbidden_origin');
  const own = await fetch(`${d.url}/v1/vms`, { headers: { origin: d.url } });
  assert.equal(own.status, 200);
  // DNS rebinding: another site's name for this host, same-origin to itself, and no token (fetch cannot set Host)
  const rebound = await new Promise<number>((resolve, reject) => {
    const req = request(`${d.url}/v1/vms`, { headers: { host: 'evil.example:80', 'sec-fetch-site': 'same-origin' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(rebound, 403);
});

test('with a token the page asks for it, and its console WebSocket carries it', { skip: missing }, async () => {
  const token = 'web console token/+=';
  const td = await startDaemon(join(fx.work, 'state-token'), ['--allow-dir', fx.work, '--allow-dir', fx.guest.dir], { TVISOR_TOKEN: token });
  const page = await browser.newPage();
  const errors = pageErrors(page);
  try {
    const r = await fetch(`${td.url}/v1/vms`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'web-token', kernel: fx.guest.kernel, initrd: fx.guest.initrd, memory_mib: 64 }),
    });
    assert.equal(r.status, 201);
    const id = (await r.json()).id as string;
    await page.goto(`${td.url}/`);
    await page.locator('form.token').waitFor({ timeout: 60_000 });
    await page.locator('form.token input[name=token]').fill(token);
    await page.locator('form.token button').click();
    await page.locator(`tr[data-vm="${id}"]`).waitFor({ timeout: 60_000 });
    // the same WebSocket the terminal opens, with and without the token's subprotocol
    const opened = (withToken: boolean) => page.evaluate(([vm, t, w]) => new Promise<string>((resolve) => {
      const b64 = btoa(t as string).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const ws = new WebSocket(`ws://${location.host}/v1/vms/${vm}/console`, w ? ['tvisor', `tvisor.bearer.${b64}`] : ['tvisor']);
      ws.onopen = () => {
        resolve(`open ${ws.protocol}`);
        ws.close();
      };
      ws.onerror = () => resolve('refused');
    }), [id, token, withToken] as const);
    assert.equal(await opened(true), 'open tvisor');
    assert.equal(await opened(false), 'refused');
    // the token is kept for the tab only, and the address does not carry it
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tvisor.token')), token);
    const logged = errors().filter((e) => !/WebSocket|401/.test(e));
    assert.deepEqual(logged, [], 'no error beyond the refused WebSocket and the first 401');
  } finally {
    await page.close();
    await stopDaemon(td);
  }
});
