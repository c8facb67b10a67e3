// A real browser for the web console's tests: Debian's chromium, headless, driven by playwright-core (which
// brings no browser of its own). Screenshots go to dist/screenshots (or $TVISOR_SCREENSHOTS), from where the
// README's pictures are copied.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from './toolchain.js';

/** Debian's chromium binary (/usr/bin/chromium is a shell wrapper that adds flags of its own), or $CHROMIUM. */
export function chromiumPath(): string | undefined {
  for (const p of [process.env.CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium']) if (p && existsSync(p)) return p;
  return undefined;
}

/**
 * Why a browser test cannot run here, or undefined when it can. In CI (CI=true) a missing browser is a failure
 * rather than a skip: .ci/run installs it.
 */
export function browserMissing(): string | undefined {
  if (chromiumPath()) return undefined;
  const why = 'chromium is not installed (apt-get install chromium)';
  if (process.env.CI === 'true') throw new Error(`${why}; .ci/run installs it`);
  return why;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** Where screenshots are saved (made when missing). */
export function screenshotDir(): string {
  const dir = process.env.TVISOR_SCREENSHOTS ?? join(repoRoot, 'dist', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Collects the page's console errors and uncaught exceptions, so a test can show them when it fails. */
export function pageErrors(page: Page): () => string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return () => errors;
}
