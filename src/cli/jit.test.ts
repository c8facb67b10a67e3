// Unit tests of --jit's parsing (option over $TVISOR_JIT over the default, errors naming the source) and of the
// --stats line; tests/jit-cli.test.ts drives the real commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jitHelp, jitModeOf, modesOf, statsLine } from './jit.js';
import { UsageError } from './args.js';

test('--jit beats TVISOR_JIT, which beats the default; an empty TVISOR_JIT counts as unset', () => {
  assert.equal(jitModeOf(undefined, 'run', {}), 'on');
  assert.equal(jitModeOf(undefined, 'run', { TVISOR_JIT: '' }), 'on');
  assert.equal(jitModeOf(undefined, 'run', { TVISOR_JIT: 'all' }), 'all');
  assert.equal(jitModeOf(undefined, 'run', { TVISOR_JIT: ' Off ' }), 'off');
  assert.equal(jitModeOf('on', 'run', { TVISOR_JIT: 'all' }), 'on');
  assert.equal(jitModeOf('off', 'bare', { TVISOR_JIT: 'bogus' }), 'off', 'a bad TVISOR_JIT is not looked at when --jit is given');
});

test('a bad value is a usage error of the command, naming --jit or TVISOR_JIT', () => {
  const refused = (fn: () => unknown, message: string, command: string) =>
    assert.throws(fn, (e: unknown) => e instanceof UsageError && e.message === message && e.command === command);
  refused(() => jitModeOf('fast', 'bare', {}), "--jit must be one of on, off, all, got 'fast'", 'bare');
  refused(() => jitModeOf(undefined, 'serve', { TVISOR_JIT: 'yes' }), "TVISOR_JIT must be one of on, off, all, got 'yes'", 'serve');
});

test('the stats line and the harts\' modes', () => {
  assert.equal(statsLine(123_456_789, 2500, 'on'), 'tvisor: 123456789 instructions in 2.500 s (49.4 MIPS), jit on\n');
  assert.equal(statsLine(5, 0, 'all'), 'tvisor: 5 instructions in 0.000 s (0.0 MIPS), jit all\n');
  assert.equal(modesOf([{ jitMode: 'all' }, { jitMode: 'all' }]), 'all');
  assert.equal(modesOf([{ jitMode: 'on' }, { jitMode: 'off' }]), 'on/off');
});

test('the help lines fit the option column they are given', () => {
  const lines = jitHelp(20).split('\n');
  assert.match(lines[0], /^ {2}--jit on\|off\|all {4}translate/);
  for (const l of lines.slice(1)) assert.match(l, /^ {22}\S/);
});
