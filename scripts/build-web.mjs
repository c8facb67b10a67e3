// Builds the web pages into dist/web with esbuild: the daemon's console (src/web/console → dist/web/index.html
// and dist/web/assets/console.{js,css}, served by `tvisor serve`), and the in-browser hypervisor, a static site
// of its own (src/web/demo and its VM worker src/host/browser/vm-worker.ts → dist/web/demo/, served by
// `tvisor demo` with the guest's files). One bundle per page, minified, with source maps; the CSS of xterm.js
// and uPlot is bundled with the page's own. Prints each file's size.
// With --guest (npm run build:web), the default guest's kernel and initramfs from the image cache are copied into
// dist/web/demo/images with their manifest: the directory is then a whole static site, for any server that
// sends the cross-origin isolation headers (tvisor demo serves it so, and the guest's files itself).
// Usage: node scripts/build-web.mjs [--quiet] [--guest]
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist/web');
const quiet = process.argv.includes('--quiet');
const withGuest = process.argv.includes('--guest');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const common = {
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  // ES2022, and what the in-browser VMs need: SharedArrayBuffer, Atomics.waitAsync, module workers
  target: ['chrome111', 'firefox115', 'safari16.4'],
  legalComments: 'linked',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: { console: join(root, 'src/web/console/main.ts') }, outdir: join(out, 'assets') });
copyFileSync(join(root, 'src/web/console/index.html'), join(out, 'index.html'));
mkdirSync(join(out, 'demo', 'assets'), { recursive: true });
await build({
  ...common,
  entryPoints: { demo: join(root, 'src/web/demo/main.ts'), 'vm-worker': join(root, 'src/host/browser/vm-worker.ts') },
  outdir: join(out, 'demo', 'assets'),
});
copyFileSync(join(root, 'src/web/demo/index.html'), join(out, 'demo', 'index.html'));

if (withGuest) {
  // the compiled tvisor (npm run build ran tsc first): the image cache and the manifest tvisor demo serves
  const { currentGuest } = await import('../dist/src/images/index.js');
  const { demoManifest, DEMO_FILES } = await import('../dist/src/cli/demo.js');
  const guest = await currentGuest();
  if (!guest) {
    console.log('  no default guest in the image cache (npx tvisor image pull builds it): dist/web/demo has no images');
  } else {
    mkdirSync(join(out, 'demo', 'images', 'default'), { recursive: true });
    copyFileSync(guest.kernel, join(out, 'demo', DEMO_FILES.kernel));
    copyFileSync(guest.initrd, join(out, 'demo', DEMO_FILES.initrd));
    writeFileSync(join(out, 'demo', 'images', 'manifest.json'), JSON.stringify(demoManifest(guest)));
    console.log(`  dist/web/demo/images: the default guest (Linux ${guest.kernelVersion}) copied from the image cache`);
  }
}

if (!quiet) {
  const listing = (dir) => readdirSync(join(out, dir)).filter((f) => !f.endsWith('.map') && !f.endsWith('.txt')).map((f) => `${dir}/${f}`);
  const files = ['index.html', ...listing('assets'), 'demo/index.html', ...listing('demo/assets')];
  for (const f of files) {
    const path = join(out, f);
    const gz = gzipSync(readFileSync(path)).length;
    console.log(`  dist/web/${f.padEnd(28)} ${(statSync(path).size / 1024).toFixed(1).padStart(7)} KiB  (gzip ${(gz / 1024).toFixed(1)} KiB)`);
  }
}
