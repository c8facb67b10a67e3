// Spare threads: one ready ahead of need is handed out, its replacement started a moment later (not at once);
// without a spare a new thread is made; a spare that dies untaken is dropped and not restarted in a loop;
// close() ends the spares; lazy spares start only after the first take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpareThreads } from './spare-threads.js';

function fakes() {
  const made: { id: number; exit: (r: string) => void; terminated: boolean }[] = [];
  const spawn = () => {
    const t = { id: made.length + 1, exit: (_r: string) => {}, terminated: false, onExit: (fn: (r: string) => void) => (t.exit = fn), terminate: () => (t.terminated = true) };
    made.push(t);
    return t;
  };
  const timers: (() => void)[] = [];
  const later = (fn: () => void) => timers.push(fn);
  const fire = () => timers.splice(0).forEach((f) => f());
  return { made, spawn, later, fire };
}

test('a spare is ready ahead of need; its replacement starts a moment after it is taken', () => {
  const f = fakes();
  const s = new SpareThreads(f.spawn, { count: 1, later: f.later, eager: true });
  assert.equal(f.made.length, 1, 'started at once');
  assert.equal(s.take().id, 1, 'the spare');
  assert.equal(f.made.length, 1, 'no replacement during the start it serves');
  assert.equal(s.take().id, 2, 'none ready: a new one');
  f.fire();
  assert.equal(s.spares, 1, 'replaced later, once');
  assert.equal(f.made.length, 3);
  assert.equal(s.take().id, 3);
});

test('a spare that dies untaken is dropped, not restarted in a loop; close ends the spares; lazy ones wait for a take', () => {
  const f = fakes();
  const s = new SpareThreads(f.spawn, { count: 1, later: f.later, eager: true });
  f.made[0].exit('exit code 1');
  assert.equal(s.spares, 0);
  f.fire();
  assert.equal(f.made.length, 1, 'not replaced until the next take');
  assert.equal(s.take().id, 2);
  f.fire();
  assert.equal(s.spares, 1);
  s.close();
  assert.equal(f.made[2].terminated, true);
  s.take();
  f.fire();
  assert.equal(s.spares, 0, 'closed: no more spares');

  const g = fakes();
  const lazy = new SpareThreads(g.spawn, { count: 1, later: g.later });
  assert.equal(g.made.length, 0);
  lazy.take();
  g.fire();
  assert.equal(lazy.spares, 1);
});
