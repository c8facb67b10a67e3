// Unit tests of the PLIC: gateways, claim/complete, priorities, thresholds, enables and the register map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Plic, PLIC_BASE, plicContext, plicSize } from './plic.js';

const PRIO = (src: number) => 4 * src;
const PENDING = 0x1000;
const ENABLE = (ctx: number) => 0x2000 + 0x80 * ctx;
const THRESHOLD = (ctx: number) => 0x200000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => 0x200004 + 0x1000 * ctx;

function make(contexts = 2, sources = 96) {
  const events: [number, boolean][] = [];
  const plic = new Plic({ sources, contexts, onContext: (c, l) => events.push([c, l]) });
  return { plic, events };
}

test('PLIC constants: base, QEMU-compatible window size, context numbering', () => {
  assert.equal(PLIC_BASE, 0x0c00_0000);
  assert.equal(plicSize(1024), 0x60_0000, 'QEMU virt sizes the window for 1024 contexts');
  assert.equal(plicSize(2), 0x20_2000);
  assert.equal(plicContext(0, 'M'), 0);
  assert.equal(plicContext(0, 'S'), 1);
  assert.equal(plicContext(3, 'S'), 7);
  assert.equal(make().plic.ndev, 95);
});

test('PLIC claim returns the pending source and clears its pending bit; complete re-arms it', () => {
  const { plic, events } = make();
  const line = plic.irq(10);
  plic.write(PRIO(10), 4, 1);
  plic.write(ENABLE(1), 4, 1 << 10);
  assert.deepEqual(events, []);
  line.set(true);
  assert.deepEqual(events, [[1, true]]);
  assert.equal(plic.read(PENDING, 4), 1 << 10);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  assert.equal(plic.read(PENDING, 4), 0, 'claim clears pending');
  assert.deepEqual(events, [[1, true], [1, false]]);
  // in service: the line is ignored until completion
  line.set(false);
  line.set(true);
  assert.equal(plic.read(PENDING, 4), 0);
  assert.equal(plic.read(CLAIM(1), 4), 0, 'nothing to claim');
  line.set(false);
  plic.write(CLAIM(1), 4, 10);
  assert.equal(plic.read(PENDING, 4), 0, 'line low at completion: nothing pending');
  line.set(true);
  assert.equal(plic.read(PENDING, 4), 1 << 10, 'completed source accepts a new request');
  assert.deepEqual(events, [[1, true], [1, false], [1, true]]);
});

test('PLIC level re-trigger: a line still high at completion becomes pending again', () => {
  const { plic, events } = make();
  const line = plic.irq(33);
  plic.write(PRIO(33), 4, 2);
  plic.write(ENABLE(0) + 4, 4, 1 << 1); // source 33 = word 1, bit 1
  line.set(true);
  assert.equal(plic.read(PENDING + 4, 4), 2);
  assert.equal(plic.read(CLAIM(0), 4), 33);
  assert.equal(plic.asserted(0), false);
  plic.write(CLAIM(0), 4, 33);
  assert.equal(plic.read(PENDING + 4, 4), 2);
  assert.equal(plic.asserted(0), true);
  assert.deepEqual(events, [[0, true], [0, false], [0, true]]);
  assert.equal(plic.read(CLAIM(0), 4), 33);
});

test('PLIC: a request accepted by the core stays pending after its line drops (spec gateway)', () => {
  const { plic } = make();
  const line = plic.irq(5);
  plic.write(PRIO(5), 4, 1);
  plic.write(ENABLE(0), 4, 1 << 5);
  line.set(true);
  line.set(false);
  assert.equal(plic.read(PENDING, 4), 1 << 5);
  assert.equal(plic.read(CLAIM(0), 4), 5);
});

test('PLIC claim picks the highest priority, ties go to the lowest id', () => {
  const { plic } = make(1);
  for (const s of [3, 4, 7, 40]) {
    plic.irq(s).set(true);
  }
  plic.write(ENABLE(0), 4, (1 << 3) | (1 << 4) | (1 << 7));
  plic.write(ENABLE(0) + 4, 4, 1 << 8); // 40
  plic.write(PRIO(3), 4, 2);
  plic.write(PRIO(4), 4, 5);
  plic.write(PRIO(7), 4, 5);
  plic.write(PRIO(40), 4, 7);
  assert.equal(plic.read(CLAIM(0), 4), 40);
  assert.equal(plic.read(CLAIM(0), 4), 4, 'tie between 4 and 7 at priority 5');
  assert.equal(plic.read(CLAIM(0), 4), 7);
  assert.equal(plic.read(CLAIM(0), 4), 3);
  assert.equal(plic.read(CLAIM(0), 4), 0);
});

test('PLIC priority 0 never interrupts; priority is WARL 0..7; source 0 priority is hardwired', () => {
  const { plic } = make(1);
  plic.irq(2).set(true);
  plic.write(ENABLE(0), 4, 1 << 2);
  assert.equal(plic.asserted(0), false, 'priority resets to 0');
  assert.equal(plic.read(CLAIM(0), 4), 0);
  plic.write(PRIO(2), 4, 0xffffffff);
  assert.equal(plic.read(PRIO(2), 4), 7);
  assert.equal(plic.asserted(0), true);
  plic.write(PRIO(2), 4, 8);
  assert.equal(plic.read(PRIO(2), 4), 0);
  assert.equal(plic.asserted(0), false, 'lowering the priority drops the output');
  plic.write(PRIO(0), 4, 3);
  assert.equal(plic.read(PRIO(0), 4), 0);
});

test('PLIC threshold masks priorities at or below it', () => {
  const { plic, events } = make(1);
  plic.irq(9).set(true);
  plic.write(PRIO(9), 4, 3);
  plic.write(THRESHOLD(0), 4, 3);
  plic.write(ENABLE(0), 4, 1 << 9);
  assert.equal(plic.asserted(0), false);
  assert.equal(plic.read(CLAIM(0), 4), 0, 'claim honours the threshold');
  assert.equal(plic.read(PENDING, 4), 1 << 9, 'and leaves the source pending');
  plic.write(THRESHOLD(0), 4, 2);
  assert.deepEqual(events, [[0, true]]);
  assert.equal(plic.read(THRESHOLD(0), 4), 2);
  plic.write(THRESHOLD(0), 4, 0xf);
  assert.equal(plic.read(THRESHOLD(0), 4), 7, 'threshold is WARL 0..7');
  assert.deepEqual(events, [[0, true], [0, false]]);
});

test('PLIC enables are per context; a claim from one context removes it from the other', () => {
  const { plic, events } = make(4);
  plic.write(PRIO(1), 4, 1);
  plic.write(PRIO(2), 4, 1);
  plic.write(ENABLE(1), 4, 1 << 1);
  plic.write(ENABLE(3), 4, (1 << 1) | (1 << 2));
  plic.irq(2).set(true);
  assert.deepEqual(events, [[3, true]]);
  assert.equal(plic.read(CLAIM(1), 4), 0, 'context 1 has source 2 disabled');
  plic.irq(1).set(true);
  assert.deepEqual(events, [[3, true], [1, true]]);
  assert.equal(plic.read(CLAIM(1), 4), 1);
  assert.deepEqual(events, [[3, true], [1, true], [1, false]]);
  assert.equal(plic.read(CLAIM(3), 4), 2);
  assert.deepEqual(events, [[3, true], [1, true], [1, false], [3, false]]);
  assert.equal(plic.read(ENABLE(3), 4), 6);
  assert.equal(plic.read(ENABLE(0), 4), 0);
});

test('PLIC completion from a context whose enable moved away still ends service (affinity change, as Linux does)', () => {
  const { plic } = make(2);
  const line = plic.irq(6);
  plic.write(PRIO(6), 4, 1);
  plic.write(ENABLE(0), 4, 1 << 6);
  line.set(true);
  assert.equal(plic.read(CLAIM(0), 4), 6);
  // the IRQ's affinity moves to context 1 while context 0 is still handling it
  plic.write(ENABLE(0), 4, 0);
  plic.write(ENABLE(1), 4, 1 << 6);
  assert.equal(plic.read(PENDING, 4), 0, 'in service: not pending');
  plic.write(CLAIM(0), 4, 6); // context 0 completes although 6 is no longer enabled there
  assert.equal(plic.read(PENDING, 4), 1 << 6, 'the line is still high: a new request');
  assert.equal(plic.read(CLAIM(1), 4), 6, 'and context 1 takes it');
  plic.write(CLAIM(1), 4, 6);
  plic.write(ENABLE(1), 4, 0);
  plic.write(ENABLE(0), 4, 1 << 6);
  plic.write(CLAIM(0), 4, 0); // completing id 0 or an id out of range does nothing
  plic.write(CLAIM(0), 4, 500);
  assert.equal(plic.read(CLAIM(0), 4), 6);
});

test('PLIC writes to pending bits are ignored; enable bits for id 0 and nonexistent ids read 0', () => {
  const { plic, events } = make(1, 40); // ids 1..39
  plic.write(PENDING, 4, 0xffffffff);
  plic.write(PENDING + 4, 4, 0xffffffff);
  assert.equal(plic.read(PENDING, 4), 0);
  assert.equal(plic.read(PENDING + 4, 4), 0);
  plic.write(ENABLE(0), 4, 0xffffffff);
  plic.write(ENABLE(0) + 4, 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(0), 4), 0xfffffffe);
  assert.equal(plic.read(ENABLE(0) + 4, 4), 0xff, 'ids 32..39');
  plic.write(ENABLE(0) + 8, 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(0) + 8, 4), 0);
  assert.deepEqual(events, []);
  assert.throws(() => plic.irq(0), RangeError);
  assert.throws(() => plic.irq(40), RangeError);
  assert.doesNotThrow(() => plic.irq(39));
});

test('PLIC out-of-range offsets, other widths and misaligned accesses read 0 and write nothing', () => {
  const { plic } = make(2);
  plic.irq(3).set(true);
  plic.write(PRIO(3), 4, 1);
  plic.write(ENABLE(0), 4, 1 << 3);
  assert.equal(plic.read(PRIO(96), 4), 0);
  plic.write(PRIO(96), 4, 5);
  assert.equal(plic.read(PRIO(96), 4), 0);
  assert.equal(plic.read(ENABLE(2), 4), 0, 'context 2 does not exist');
  plic.write(ENABLE(2), 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(2), 4), 0);
  assert.equal(plic.read(THRESHOLD(2), 4), 0);
  assert.equal(plic.read(CLAIM(2), 4), 0);
  assert.equal(plic.read(THRESHOLD(0) + 8, 4), 0, 'reserved word in a context page');
  assert.equal(plic.read(plicSize(2) + 4, 4), 0);
  // claim via a wrong width or misaligned offset has no side effect
  assert.equal(plic.read(CLAIM(0), 8), 0);
  assert.equal(plic.read(CLAIM(0), 2), 0);
  assert.equal(plic.read(CLAIM(0) + 1, 4), 0);
  plic.write(PRIO(3) + 2, 2, 7);
  plic.write(PRIO(3), 8, 7n);
  assert.equal(plic.read(PRIO(3), 4), 1);
  assert.equal(plic.read(PENDING, 4), 1 << 3);
  assert.equal(plic.read(CLAIM(0), 4), 3);
});

test('PLIC reset clears configuration and drops outputs; lines still high are pending again', () => {
  const { plic, events } = make(1);
  const line = plic.irq(4);
  plic.write(PRIO(4), 4, 1);
  plic.write(ENABLE(0), 4, 1 << 4);
  plic.write(THRESHOLD(0), 4, 0);
  line.set(true);
  assert.equal(plic.read(CLAIM(0), 4), 4);
  plic.irq(5).set(true);
  plic.reset();
  assert.equal(plic.read(PRIO(4), 4), 0);
  assert.equal(plic.read(ENABLE(0), 4), 0);
  assert.equal(plic.read(PENDING, 4), (1 << 4) | (1 << 5), 'in-service state cleared; high lines forwarded');
  assert.deepEqual(events, [[0, true], [0, false]]);
  assert.equal(plic.asserted(0), false);
});

test('PLIC rejects bad geometry', () => {
  assert.throws(() => new Plic({ sources: 1, contexts: 1, onContext: () => {} }), RangeError);
  assert.throws(() => new Plic({ sources: 1025, contexts: 1, onContext: () => {} }), RangeError);
  assert.throws(() => new Plic({ sources: 96, contexts: 0, onContext: () => {} }), RangeError);
});

test('PLIC edge-triggered source: one request per edge; an edge in service waits for completion; a completion raises nothing else', () => {
  const { plic, events } = make();
  const line = plic.irq(10, 'edge');
  plic.write(PRIO(10), 4, 1);
  plic.write(ENABLE(1), 4, 1 << 10);
  line.set(true);
  line.set(true); // a second edge while the first is pending joins it
  assert.equal(plic.read(CLAIM(1), 4), 10);
  assert.equal(plic.read(CLAIM(1), 4), 0, 'one request for the two edges');
  // completed with the device still signalling high and no new edge: nothing more (a level source would re-pend)
  plic.write(CLAIM(1), 4, 10);
  assert.equal(plic.read(PENDING, 4), 0);
  assert.equal(plic.asserted(1), false);
  // an edge while in service is forwarded at completion, once
  line.set(true);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  line.set(true);
  line.set(false); // a low level means nothing to an edge gateway
  assert.equal(plic.read(PENDING, 4), 0, 'held by the gateway while in service');
  plic.write(CLAIM(1), 4, 10);
  assert.equal(plic.read(PENDING, 4), 1 << 10);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  plic.write(CLAIM(1), 4, 10);
  assert.equal(plic.read(PENDING, 4), 0, 'the kept edge was forwarded once');
  assert.equal(events.filter(([, l]) => l).length, 3, 'three requests in all: the first, the second, the kept edge');
  // the same source made level-triggered again re-pends a high line at completion
  const level = plic.irq(10);
  level.set(true);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  plic.write(CLAIM(1), 4, 10);
  assert.equal(plic.read(PENDING, 4), 1 << 10);
});
