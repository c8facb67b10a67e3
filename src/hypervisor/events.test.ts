// The manager's lifecycle events with fake VM threads: one per transition, in order, with the reasons a user
// needs (who stopped a VM, why it crashed, that the guest rebooted), and none when nobody listens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeManager } from './test-manager.js';
import { STOP_REASONS, VmEventHub, type VmEvent } from './events.js';
import type { VmSpec } from './model.js';

const spec = (name: string): VmSpec => ({ name, vcpus: 1, memory_mib: 64, kernel: '/k', weight: 256, cap: 0, disks: [], nics: [] });
const slice = { t: 'slice', instructions: 1, elapsedNs: 1, idle: false, idleForNs: 0 } as const;

test('events: every lifecycle transition once, in order, with its reason', () => {
  const { manager, threads } = fakeManager();
  const seen: VmEvent[] = [];
  manager.events.subscribe((e) => seen.push(e));
  const id = manager.create(spec('ev')).id;
  manager.start(id);
  const t = threads[0];
  t.emit({ t: 'ready' });
  manager.pause(id);
  manager.resume(id);
  t.emit({ t: 'rebooted' });
  manager.stop(id);
  manager.start(id);
  threads[1].emit({ t: 'ready' });
  threads[1].emit({ ...slice, exit: { kind: 'poweroff', code: 0 } });
  manager.start(id);
  threads[2].emit({ t: 'ready' });
  threads[2].emit({ ...slice, exit: { kind: 'crashed', reason: 'illegal instruction at 0x80000000' } });
  manager.remove(id);
  const brief = seen.map((e) => [e.event, e.state, e.reason ?? '']);
  assert.deepEqual(brief, [
    ['created', 'created', ''],
    ['started', 'running', ''],
    ['paused', 'paused', ''],
    ['resumed', 'running', ''],
    ['rebooted', 'running', 'the guest rebooted'],
    ['stopped', 'stopped', STOP_REASONS.api],
    ['started', 'running', ''],
    ['stopped', 'stopped', STOP_REASONS.guestPoweroff],
    ['started', 'running', ''],
    ['crashed', 'crashed', 'illegal instruction at 0x80000000'],
    ['deleted', 'crashed', ''],
  ]);
  for (const e of seen) {
    assert.equal(e.id, id);
    assert.equal(e.name, 'ev');
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
});

test('events: a multi-vCPU guest reboot is a stop and a start; stop(id, why) and daemon shutdown say who stopped it', () => {
  const { manager, threads } = fakeManager();
  const seen: VmEvent[] = [];
  const unsubscribe = manager.events.subscribe((e) => seen.push(e));
  const id = manager.create(spec('smp')).id;
  manager.start(id);
  threads[0].emit({ t: 'ready' });
  threads[0].emit({ t: 'reset', kind: 'cold-reboot' });
  assert.deepEqual(seen.slice(-2).map((e) => [e.event, e.reason ?? '']), [['stopped', STOP_REASONS.guestReboot], ['started', '']]);
  manager.stop(id, STOP_REASONS.restart);
  assert.equal(seen.at(-1)?.reason, STOP_REASONS.restart);
  manager.start(id, { paused: true });
  assert.deepEqual([seen.at(-1)?.event, seen.at(-1)?.state], ['started', 'paused'], 'a start paused is a start');
  manager.shutdown();
  assert.deepEqual([seen.at(-1)?.event, seen.at(-1)?.reason], ['stopped', STOP_REASONS.shutdown]);
  unsubscribe();
  const n = seen.length;
  manager.start(id);
  assert.equal(seen.length, n, 'an unsubscribed sink hears nothing more');
  assert.equal(manager.events.subscribers, 0);
});

test('events: a hub with no subscribers does no work; a subscriber leaving during an event does not disturb the others', () => {
  let clock = 0;
  const hub = new VmEventHub(() => {
    clock++;
    return new Date(0);
  });
  const vm = { id: '0000000a', spec: spec('x'), state: 'running' as const };
  hub.emit(vm, 'started');
  assert.equal(clock, 0, 'no time is even read');
  const got: string[] = [];
  const offA = hub.subscribe(() => {
    got.push('a');
    offA();
  });
  hub.subscribe(() => got.push('b'));
  hub.emit(vm, 'paused');
  hub.emit(vm, null);
  hub.emit(vm, 'resumed');
  assert.deepEqual(got, ['a', 'b', 'b']);
});
