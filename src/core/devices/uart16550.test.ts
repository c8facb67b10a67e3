// The UART's input bounds: a 16-byte receive FIFO refilled from a bounded host line as the guest reads (a
// paste arrives whole), input beyond the line's backlog dropped and counted, and the ByteQueue ring under them.
// Its interrupt on an edge-triggered PLIC source, as the board wires it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550, UART_LINE_BACKLOG, UART_RX_FIFO } from './uart16550.js';
import { ByteQueue } from './byte-queue.js';
import { Plic } from './plic.js';

const RBR = 0;
const LSR = 5;

/** Reads the guest's way: RBR while LSR says data ready. */
function drain(u: Uart16550, max = Infinity): number[] {
  const got: number[] = [];
  while (got.length < max && u.read(LSR, 1) & 1) got.push(u.read(RBR, 1));
  return got;
}

test('ByteQueue keeps order across the ring\'s wrap and never grows past its capacity', () => {
  const q = new ByteQueue(5);
  assert.equal(q.push(Uint8Array.of(1, 2, 3)), 3);
  assert.equal(q.shift(), 1);
  assert.equal(q.shift(), 2);
  assert.equal(q.push(Uint8Array.of(4, 5, 6, 7, 8)), 4, 'only what fits');
  assert.equal(q.length, 5);
  assert.equal(q.free, 0);
  assert.equal(q.pushByte(9), false);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [3, 4, 5, 6, 7, -1]);
  q.clear();
  assert.equal(q.length, 0);
  assert.throws(() => new ByteQueue(0), /whole number/);
});

test('UART: the receive FIFO holds 16 bytes; the line refills it as the guest reads, so a paste arrives whole', () => {
  let irq = false;
  const u = new Uart16550(() => {}, { set: (l) => (irq = l) });
  u.write(1, 1, 0x01); // IER: received data available
  const paste = new TextEncoder().encode('echo a line of a few KiB '.repeat(200) + '\n');
  assert.equal(u.receive(paste), 0, 'nothing dropped');
  assert.equal(u.pendingInput, paste.length);
  assert.equal(irq, true);
  // the guest's interrupt handler reads at most 16 before the FIFO runs dry only if the line is empty
  const first = drain(u, UART_RX_FIFO);
  assert.equal(first.length, UART_RX_FIFO);
  u.write(2, 1, 0x07); // FCR: enable and clear the FIFOs: the host's side of the line refills it
  const rest = drain(u);
  assert.equal(first.length + rest.length, paste.length - UART_RX_FIFO, 'a cleared FIFO loses what it held, no more');
  assert.equal(irq, false, 'no data, no interrupt');
  assert.equal(u.stats.rxDropped, 0);
});

test('UART: input beyond the line backlog is dropped and counted, as a full FIFO drops on hardware', () => {
  const u = new Uart16550(() => {});
  u.write(1, 1, 0x01); // IER: received data available (the driver is ready)
  const big = new Uint8Array(64 * 1024).fill(0x61);
  let dropped = 0;
  for (let i = 0; i < 32; i++) dropped += u.receive(big); // 2 MiB to a guest that never reads
  const kept = UART_RX_FIFO + UART_LINE_BACKLOG;
  assert.equal(u.pendingInput, kept);
  assert.equal(dropped, 32 * big.length - kept);
  assert.equal(u.stats.rxDropped, dropped);
  assert.equal(drain(u).length, kept, 'what was kept is delivered');
  assert.equal(u.stats.rxBytes, kept);
  u.receive(Uint8Array.of(0x62));
  u.reset();
  assert.equal(u.pendingInput, 0, 'a reset empties FIFO and line');
});

test('UART: input waits on the line while the driver keeps RTS off, so a port being opened loses none of it', () => {
  let irq = false;
  const u = new Uart16550(() => {}, { set: (l) => (irq = l) });
  const typed = new TextEncoder().encode('echo typed during boot\nexit\n');
  u.receive(typed); // before the kernel touched the UART at all
  assert.equal(u.read(LSR, 1) & 1, 0, 'nothing in the FIFO before a driver is ready');
  u.write(4, 1, 0x01); // MCR: DTR only, as Linux's console setup leaves it before the tty is opened
  u.write(1, 1, 0x05); // IER: received data and line status, as the 8250 probe tries
  assert.equal(u.read(LSR, 1) & 1, 0, 'no data ready while RTS is off');
  u.write(4, 1, 0x1a); // the probe's loopback test: RTS with LOOP, which disconnects the receiver
  assert.equal(u.read(LSR, 1) & 1, 0, 'no data from the line in loopback mode');
  u.write(4, 1, 0x01);
  assert.equal(irq, false);
  // the 8250 driver's startup: clear and disable the FIFOs, read RBR to clear a stale byte, then raise RTS
  u.write(2, 1, 0x06);
  u.read(RBR, 1);
  assert.equal(u.pendingInput, typed.length, 'nothing lost to the clearing');
  u.write(4, 1, 0x0b); // MCR: DTR | RTS | OUT2
  assert.equal(irq, true, 'data ready raises the interrupt once RTS is on');
  assert.equal(new TextDecoder().decode(Uint8Array.from(drain(u))), 'echo typed during boot\nexit\n');
  u.write(4, 1, 0x09); // RTS off again: what is still on the line waits
  u.receive(Uint8Array.of(0x61));
  assert.equal(u.read(LSR, 1) & 1, 0);
  u.reset();
  u.receive(Uint8Array.of(0x62));
  assert.equal(u.read(LSR, 1) & 1, 0, 'after reset nothing arrives before the driver is ready');
  u.write(1, 1, 0x03); // IER as xv6 sets it, which never programs MCR
  assert.deepEqual(drain(u), [0x62], 'a driver that never programs MCR is ready once it enables receive interrupts');
});

test('UART on an edge-triggered PLIC source: a handler that never reads IIR (xv6 2022) gets one interrupt, not a storm', () => {
  // QEMU's 16550 and PLIC behave this way: THR-empty stays pending in IIR, but completing the interrupt raises
  // no new one until the UART's state changes (a THR write, an IER write, input); Linux reads IIR either way.
  const plic = new Plic({ sources: 96, contexts: 2, onContext: () => {} });
  const u = new Uart16550(() => {}, plic.irq(10, 'edge'));
  const IER = 1, IIR = 2, THR = 0, CLAIM = 0x200004 + 0x1000, PENDING = 0x1000;
  plic.write(4 * 10, 4, 1);
  plic.write(0x2000 + 0x80, 4, 1 << 10);
  u.write(IER, 1, 0x03); // received data and THR empty, as xv6's uartinit
  const handle = () => {
    const id = plic.read(CLAIM, 4);
    if (id !== 0) {
      u.read(LSR, 1); // xv6 2022's uartintr: LSR, then RHR only when data is ready; never IIR
      plic.write(CLAIM, 4, id);
    }
    return id;
  };
  assert.equal(handle(), 10, 'enabling THR-empty interrupts with THR empty raises one');
  for (let i = 0; i < 5; i++) assert.equal(handle(), 0, 'and no more while nothing changes');
  assert.equal(u.read(IIR, 1) & 0x0f, 0x02, 'IIR still reports THR empty (PC16550D: until IIR is read)');
  assert.equal(u.read(IIR, 1) & 0x0f, 0x01, 'reading IIR cleared it');
  u.write(THR, 1, 0x41);
  assert.equal(plic.read(PENDING, 4), 1 << 10, 'a byte written (sent at once) raises THR empty again');
  assert.equal(handle(), 10);
  assert.equal(handle(), 0);
  u.receive(Uint8Array.of(0x0a));
  assert.equal(handle(), 10, 'input raises one');
  assert.deepEqual(drain(u), [0x0a]);
});
