// The fast start's pieces that need no guest: the handshake marker taken out of console output however it is
// split (and everything else passed through unchanged, escape sequences included), the host's answer line, and
// the cache key (the machine, without its name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fastStartPath, handshakeLine, HandshakeWatch } from './fast-start.js';
import { HANDSHAKE_READY } from '../images/initramfs.js';
import type { MachineDescription } from '../hypervisor/machine.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (chunks: Uint8Array[]) => new TextDecoder().decode(Uint8Array.from(chunks.flatMap((c) => [...c])));

test('HandshakeWatch: markers are taken out and counted however the output is split; other bytes pass unchanged', () => {
  const piece = fc.oneof(fc.constantFrom('\x1b[6n', '\x1b]', '\x1b]tvisor;', '\x1b]tvisor;read', 'A\r\n', '/ # ', '\x07', ''), fc.string({ maxLength: 8 }));
  fc.assert(fc.property(fc.array(fc.tuple(piece, fc.boolean()), { maxLength: 12 }), fc.array(fc.nat(40), { maxLength: 10 }), (parts, cuts) => {
    const text = parts.map(([p, mark]) => p + (mark ? HANDSHAKE_READY : '')).join('');
    const marks = parts.filter(([, m]) => m).length;
    const bytes = enc(text);
    const out: Uint8Array[] = [];
    let ready = 0;
    const w = new HandshakeWatch((b) => out.push(b.slice()), () => ready++);
    let at = 0;
    for (const c of [...cuts, bytes.length]) {
      const end = Math.min(bytes.length, at + c);
      w.write(bytes.subarray(at, end));
      at = end;
    }
    w.write(bytes.subarray(at));
    w.flush();
    // a text whose pieces happen to spell the marker has more of them; what is left never holds one
    assert.ok(ready >= marks);
    assert.equal(dec(out), text.split(HANDSHAKE_READY).join(''));
  }), { numRuns: 2000 });
});

test('the handshake line: the terminal\'s size and TERM, or 24x80 dumb without a terminal, and the time in seconds', () => {
  assert.equal(new TextDecoder().decode(handshakeLine({ isTTY: true, rows: 50, columns: 132, term: 'xterm-256color' }, 1_796_000_000_999)), '50 132 xterm-256color 1796000000\n');
  assert.equal(new TextDecoder().decode(handshakeLine({ isTTY: false, rows: 50, columns: 132, term: 'xterm' }, 5000)), '24 80 dumb 5\n');
  assert.equal(new TextDecoder().decode(handshakeLine({ isTTY: true, rows: 50, columns: 132, term: 'x y' }, 0)), '50 132 dumb 0\n');
});

test('a fast start is kept per machine, whatever the VM is called', () => {
  const m: MachineDescription = { name: 'a', memoryBytes: 256 << 20, vcpus: 1, kernel: '/c/Image', initrd: '/c/initrd', cmdline: 'console=ttyS0 tvisor.handshake', devices: [] };
  assert.equal(fastStartPath('/c', m), fastStartPath('/c', { ...m, name: 'b' }));
  assert.notEqual(fastStartPath('/c', m), fastStartPath('/c', { ...m, memoryBytes: 128 << 20 }));
  assert.notEqual(fastStartPath('/c', m), fastStartPath('/c', { ...m, devices: [{ kind: 'rng' }] }));
  assert.match(fastStartPath('/c', m), /^\/c\/snapshots\/run-[0-9a-f]{24}\.snap$/);
});
