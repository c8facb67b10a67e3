// Replays every committed fuzz input through its target, outside the fuzzer: the crash inputs kept in
// fuzz/regressions/<target>/ (each one a defect that was fixed) and the seed corpora in fuzz/corpus/<target>/.
// A target throws on a defect, so an input that fails here is a regression.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function inputs(kind: 'regressions' | 'corpus', target: string): string[] {
  const dir = path.join(root, 'fuzz', kind, target);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => path.join(dir, f));
}

test('every fuzz target has seeds, and every input directory names a target', () => {
  for (const kind of ['regressions', 'corpus'] as const) {
    const dir = path.join(root, 'fuzz', kind);
    for (const t of fs.existsSync(dir) ? fs.readdirSync(dir) : []) assert.ok(TARGETS[t], `fuzz/${kind}/${t} is not a target`);
  }
  for (const t of Object.keys(TARGETS)) assert.ok(inputs('corpus', t).length > 0, `no seeds in fuzz/corpus/${t}`);
});

for (const name of Object.keys(TARGETS)) {
  test(`fuzz target ${name}: the regression inputs and seeds pass`, async () => {
    const { fuzz } = (await import(`./targets/${name}.js`)) as { fuzz: (data: Uint8Array) => void | Promise<void> };
    const files = [...inputs('regressions', name), ...inputs('corpus', name)];
    for (const f of files) {
      try {
        await fuzz(new Uint8Array(fs.readFileSync(f)));
      } catch (e) {
        assert.fail(`${path.relative(root, f)}: ${(e as Error)?.stack ?? String(e)}`);
      }
    }
    await fuzz(new Uint8Array(0));
  });
}
