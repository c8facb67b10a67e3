// The console's cursor query filter (however the guest's writes split ESC [ 6 n) and the kernel command line
// parameters that carry the host terminal to the guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createConsoleSink, cursorQueryFilter, terminalParams } from './console.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('cursor position queries are dropped however the writes split them; other escapes pass', () => {
  const text = '/ # \x1b[6n\x1b[1;32mgreen\x1b[0m \x1b\x1b[6n\x1b[6x end\x1b';
  const want = '/ # \x1b[1;32mgreen\x1b[0m \x1b\x1b[6x end';
  for (const size of [1, 2, 3, 5, 64]) {
    const f = cursorQueryFilter();
    const bytes = enc(text);
    let out = '';
    for (let i = 0; i < bytes.length; i += size) out += dec(f(bytes.subarray(i, i + size)));
    assert.equal(out, want, `writes of ${size}`); // the trailing ESC is held until the next write shows what it is
  }
});

test('the sink drops the queries only when asked', () => {
  for (const drop of [true, false]) {
    const stream = new PassThrough();
    let got = '';
    stream.on('data', (d) => (got += d));
    const sink = createConsoleSink(stream, { dropCursorQueries: drop });
    for (const b of enc('a\x1b[6nb\n')) sink.write(Uint8Array.of(b));
    sink.close();
    assert.equal(got, drop ? 'ab\n' : 'a\x1b[6nb\n');
  }
});

test('the guest is told TERM and the size of a terminal, TERM=dumb otherwise, never twice', () => {
  assert.equal(terminalParams({ isTTY: true, rows: 37, columns: 101, term: 'xterm-256color' }, 'console=ttyS0'), ' TERM=xterm-256color tvisor.rows=37 tvisor.cols=101');
  assert.equal(terminalParams({ isTTY: false, term: 'xterm' }, 'console=ttyS0'), ' TERM=dumb');
  assert.equal(terminalParams({ isTTY: true, rows: 24, columns: 80 }, 'console=ttyS0'), ' tvisor.rows=24 tvisor.cols=80', 'no $TERM: the guest keeps its default');
  assert.equal(terminalParams({ isTTY: true, rows: 24, columns: 80, term: 'bad term' }, ''), ' tvisor.rows=24 tvisor.cols=80');
  assert.equal(terminalParams({ isTTY: true, rows: 50, columns: 132, term: 'xterm' }, 'console=ttyS0 TERM=vt100 tvisor.rows=10 tvisor.cols=20'), '', 'what the command line sets wins');
  assert.equal(terminalParams({ isTTY: true, rows: 50, columns: 132, term: 'xterm' }, 'XTERM=1 tvisorxrows=3'), ' TERM=xterm tvisor.rows=50 tvisor.cols=132');
});
