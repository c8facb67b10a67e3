// `npm run demo`: builds examples/hello with riscv64-unknown-elf-gcc and runs it with `tvisor bare`.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const gcc = 'riscv64-unknown-elf-gcc';
const elf = join(root, 'dist', 'examples', 'hello', 'hello.elf');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

if (spawnSync(gcc, ['--version']).status !== 0) {
  console.error(`demo: ${gcc} not found; install it with: sudo apt-get install gcc-riscv64-unknown-elf`);
  process.exit(2);
}
mkdirSync(dirname(elf), { recursive: true });
const args = [
  '-march=rv64imac', '-mabi=lp64', '-mcmodel=medany', '-O2', '-ffreestanding', '-nostdlib', '-nostartfiles',
  '-static', '-T', join(here, 'link.ld'), '-o', elf, join(here, 'start.S'), join(here, 'hello.c'),
];
const show = (p) => relative(process.cwd(), p) || '.';
console.log(`$ ${gcc} ${args.map((a) => (a.startsWith('/') ? show(a) : a)).join(' ')}`);
const build = spawnSync(gcc, args, { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

console.log(`$ tvisor bare ${show(elf)}`);
const run = spawnSync(process.execPath, [cli, 'bare', elf, '--timeout', '30'], { stdio: 'inherit' });
console.log(`(exit status ${run.status ?? run.signal})`);
process.exit(run.status ?? 1);
