// startPasst against stand-ins for passt (node scripts given as the binary): the socket's file appears before
// anything listens on it (passt binds, then listens), which must not fail the NIC; a passt that ends before
// opening its socket is an error with its own words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPasst } from './passt.js';

/** An executable node script standing in for passt. */
function fakePasst(dir: string, body: string): string {
  const path = join(dir, 'passt');
  writeFileSync(path, `#!${process.execPath}\nconst socket = process.argv[process.argv.indexOf('--socket') + 1];\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test('passt\'s socket file exists a while before it listens: tvisor connects once it does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-fake-passt-'));
  try {
    // a plain file first (a connection to it is refused, as to a bound socket not yet listening), then the socket
    const binary = fakePasst(dir, `
const fs = require('node:fs'); const net = require('node:net');
fs.writeFileSync(socket, '');
setTimeout(() => {
  fs.unlinkSync(socket);
  net.createServer((c) => { c.write(Buffer.from([0, 0, 0, 3, 1, 2, 3])); c.on('data', () => {}); }).listen(socket);
}, 400);
process.on('SIGTERM', () => process.exit(0));`);
    const warnings: string[] = [];
    const nic = await startPasst([], { warn: (l) => warnings.push(l), binary });
    const frame = await new Promise<Uint8Array>((resolve) => nic.setReceiver((f) => resolve(f.slice())));
    assert.deepEqual([...frame], [1, 2, 3], 'a frame from the stand-in arrives through the connection');
    nic.close();
    assert.deepEqual(warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a passt that ends before opening its socket is an error with its last words', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-fake-passt-'));
  try {
    const binary = fakePasst(dir, `process.stderr.write('Failed to bind port 2222: Address already in use\\n'); process.exit(1);`);
    await assert.rejects(startPasst([], { warn: () => {}, binary }), /passt ended \(exit code 1\): Failed to bind port 2222: Address already in use/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
