// Builds the web pages into dist/web with esbuild: the daemon's console (src/web/console → dist/web/index.html
// and dist/web/assets/console.{js,css}, served by `tvisor serve`). One bundle per page, minified, with source
// maps; the CSS of xterm.js and uPlot is bundled with the page's own. Prints each file's size.
// Usage: node scripts/build-web.mjs [--quiet]
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist/web');
const quiet = process.argv.includes('--quiet');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

await build({
  entryPoints: { console: join(root, 'src/web/console/main.ts') },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  // what the console needs: ES2022 classes and top-level await, CSS nesting is not used
  target: ['chrome111', 'firefox115', 'safari16.4'],
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(root, 'src/web/console/index.html'), join(out, 'index.html'));

if (!quiet) {
  const files = ['index.html', ...readdirSync(join(out, 'assets')).filter((f) => !f.endsWith('.map')).map((f) => `assets/${f}`)];
  for (const f of files) {
    const path = join(out, f);
    const gz = gzipSync(readFileSync(path)).length;
    console.log(`  dist/web/${f.padEnd(28)} ${(statSync(path).size / 1024).toFixed(1).padStart(7)} KiB  (gzip ${(gz / 1024).toFixed(1)} KiB)`);
  }
}
