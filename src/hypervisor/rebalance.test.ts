// Thread rebalancing: which VM moves (two busy VMs sharing a thread while a host CPU is free: the less busy one
// that may move), where it must not go (threads where a busy VM runs), and when nothing moves (no free host CPU,
// busy VMs already apart, none movable); the Rebalancer judges by CPU time over a period, one move at a time,
// and leaves a moved VM alone for its cool-down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseMove, Rebalancer, type VmLoad } from './rebalance.js';

const S = 1e9;
const T1 = { id: 1 }, T2 = { id: 2 }, T3 = { id: 3 };
const load = (id: string, host: object, share: number, movable = true): VmLoad => ({ id, host, cpuNs: share * S, movable });

test('two busy VMs on one thread with a host CPU free: the less busy one moves, away from every busy thread', () => {
  const m = chooseMove([load('a', T1, 0.55), load('c', T1, 0.45), load('b', T2, 0.02)], S, 2);
  assert.deepEqual(m, { id: 'c', avoid: new Set([T1]) });
  const three = chooseMove([load('a', T1, 0.34), load('c', T1, 0.33), load('d', T1, 0.33), load('b', T2, 0.6)], S, 3);
  assert.equal(three?.id, 'c');
  assert.deepEqual(three?.avoid, new Set([T1, T2]), 'not onto the thread of another busy VM');
  assert.equal(chooseMove([load('a', T1, 0.5), load('c', T1, 0.5, false)], S, 2)?.id, 'a', 'the other may not move: the busiest goes');
  assert.equal(chooseMove([load('a', T1, 0.5, false), load('c', T1, 0.5, false)], S, 2), null, 'neither may move');
  assert.equal(chooseMove([load('a', T1, 0.5, false), load('c', T1, 0.49)], S, 2)?.id, 'c');
});

test('nothing moves when no host CPU is free, busy VMs are apart, or VMs are not busy', () => {
  assert.equal(chooseMove([load('a', T1, 0.5), load('c', T1, 0.5), load('b', T2, 0.9)], S, 2), null, 'both host CPUs in use');
  assert.equal(chooseMove([load('a', T1, 0.5), load('c', T1, 0.5)], S, 1), null, 'one host CPU, and it is in use');
  assert.equal(chooseMove([load('a', T1, 1), load('b', T2, 1)], S, 4), null, 'already apart');
  assert.equal(chooseMove([load('a', T1, 0.1), load('c', T1, 0.1)], S, 2), null, 'not busy');
  assert.equal(chooseMove([], 0, 2), null);
});

test('the Rebalancer judges each period by CPU time used, moves one VM at a time, and leaves it be for its cool-down', async () => {
  let now = 0;
  const cpu: Record<string, number> = { a: 0, b: 0, c: 0 };
  const hosts: Record<string, object> = { a: T1, b: T2, c: T1 };
  const moves: string[] = [];
  let finish: () => void = () => {};
  const r = new Rebalancer({
    vms: () => Object.keys(cpu).map((id) => ({ id, host: hosts[id], cpuNs: cpu[id], movable: true })),
    move: (id, avoid) => {
      moves.push(`${id} avoiding ${[...avoid].map((h) => (h as { id: number }).id).join(',')}`);
      return new Promise<void>((resolve) => (finish = resolve));
    },
    nowNs: () => now,
  }, 2, 30 * S);
  const period = (a: number, b: number, c: number) => {
    now += S;
    cpu.a += a * S;
    cpu.b += b * S;
    cpu.c += c * S;
    r.tick();
  };
  r.tick();
  assert.deepEqual(moves, [], 'the first look has no period');
  period(0.5, 0, 0.5);
  assert.deepEqual(moves, ['c avoiding 1'], 'a tie: the first stays');
  period(0.5, 0, 0.5);
  assert.equal(moves.length, 1, 'one move at a time');
  hosts.c = T3;
  finish();
  await new Promise((res) => setImmediate(res));
  hosts.c = T1; // as if it came back: still resting
  period(0.5, 0, 0.5);
  period(0.5, 0, 0.5);
  assert.deepEqual(moves, ['c avoiding 1', 'a avoiding 1'], 'the one that moved rests; the other may go');
  finish();
  await new Promise((res) => setImmediate(res));
  now += 31 * S;
  period(0.5, 0, 0.5);
  period(0.5, 0, 0.5);
  assert.equal(moves.length, 3, 'after the cool-down it may move again');
});
