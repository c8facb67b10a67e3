// The host split, enforced by the build (issue 16): src/core, src/hypervisor, src/host/browser and the in-process
// API compile without Node's types
// (tsconfig.browser.json: no @types/node, the Web Worker library), so code there that imports node:* or uses a
// Node global such as Buffer or process fails `npm run build`. Checked both ways: the tree compiles, and a file
// that does either is refused by the same configuration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const root = resolve(import.meta.dirname, '..', '..');
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
const dir = mkdtempSync(join(tmpdir(), 'tvisor-browser-types-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const compile = (project: string) => spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', cwd: root });

test('src/core and src/hypervisor compile without Node\'s types', () => {
  const r = compile(join(root, 'tsconfig.browser.json'));
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the browser configuration refuses a node: import, Buffer and process', () => {
  writeFileSync(join(dir, 'leak.ts'), [
    "import { readFileSync } from 'node:fs';",
    'export const a = readFileSync;',
    "export const b = Buffer.from('x');",
    'export const c = process.pid;',
    'export const d = new TextEncoder().encode(String(performance.now())); // these are the Web\'s: fine',
  ].join('\n'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: join(root, 'tsconfig.browser.json'), compilerOptions: { rootDir: dir }, include: [join(dir, 'leak.ts')], exclude: [],
  }));
  const r = compile(join(dir, 'tsconfig.json'));
  assert.notEqual(r.status, 0);
  const out = r.stdout + r.stderr;
  assert.match(out, /leak\.ts\(1,.*Cannot find module 'node:fs'/);
  assert.match(out, /leak\.ts\(3,.*Cannot find name 'Buffer'/);
  assert.match(out, /leak\.ts\(4,.*Cannot find name 'process'/);
  assert.doesNotMatch(out, /leak\.ts\(5,/);
});
