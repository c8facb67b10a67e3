// The VM manager's guest-driven streams with fake VM threads: console output acknowledged to its thread, fanned
// out with what was skipped and kept as a bounded backlog; console input with flow control and a bound on
// what is in flight; device-event log lines rate-limited per VM; frames to a NIC bounded in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE_INPUT_IN_FLIGHT, NIC_FRAMES_IN_FLIGHT } from './manager.js';
import { fakeManager } from './test-manager.js';
import type { VmSpec } from './model.js';

function setup() {
  let nowNs = 0;
  const { manager, threads, logs } = fakeManager({ memoryBudgetMib: 4096, nowNs: () => nowNs });
  const spec = (name: string, nics = 0): VmSpec => ({
    name, vcpus: 1, memory_mib: 64, kernel: '/k', weight: 256, cap: 0, disks: [], nics: Array.from({ length: nics }, () => ({})),
  });
  return { manager, threads, logs, spec, advanceMs: (ms: number) => (nowNs += ms * 1e6) };
}

test('console output: each batch is acknowledged, given to every client with what was skipped, and the backlog keeps 64 KiB', () => {
  const { manager, threads, spec } = setup();
  const id = manager.create(spec('c')).id;
  const got: { data: number; skipped: number }[] = [{ data: 0, skipped: 0 }, { data: 0, skipped: 0 }];
  for (const g of got) manager.attachConsole(id, { data: (b) => (g.data += b.length), skipped: (n) => (g.skipped += n) });
  manager.start(id);
  const t = threads[0];
  for (let i = 0; i < 10; i++) t.emit({ t: 'console', bytes: new Uint8Array(16 * 1024), dropped: i === 9 ? 5000 : undefined });
  assert.deepEqual(t.sent.filter((m) => m.t === 'console-ack'), Array.from({ length: 10 }, () => ({ t: 'console-ack', bytes: 16 * 1024 })));
  assert.deepEqual(got, [{ data: 160 * 1024, skipped: 5000 }, { data: 160 * 1024, skipped: 5000 }]);
  assert.equal(manager.inspect(id).stats.console_output_dropped_bytes, 5000, 'and counted in the VM\'s stats');
  let replay = 0;
  manager.attachConsole(id, { data: (b) => (replay += b.length) });
  assert.equal(replay, 64 * 1024, 'a client attaching later gets the last 64 KiB');
});

test('console input: flow control holds a client until the VM took its input; beyond the in-flight bound input drops', async () => {
  const { manager, threads, spec } = setup();
  const id = manager.create(spec('i')).id;
  const session = manager.attachConsole(id, { data: () => {} });
  let released = 0;
  assert.equal(session.input(new Uint8Array(100), () => released++), false, 'a VM not started drops input');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(released, 1, 'and lets the client go on after a pause');
  assert.equal(manager.inspect(id).stats.console_input_dropped_bytes, 100, 'dropped input is counted');

  manager.start(id);
  const t = threads[0];
  released = 0;
  assert.equal(session.input(new Uint8Array(40 * 1024), () => released++), true);
  assert.equal(session.input(new Uint8Array(24 * 1024), () => released++), true);
  assert.equal(session.input(new Uint8Array(1), () => released++), false, `more than ${CONSOLE_INPUT_IN_FLIGHT} in flight`);
  assert.equal(t.sent.filter((m) => m.t === 'input').length, 2);
  assert.equal(released, 0, 'nobody is let go before the VM takes the input');
  t.emit({ t: 'input-ack', bytes: 40 * 1024, dropped: 1000 });
  assert.equal(released, 1);
  assert.equal(manager.inspect(id).stats.console_input_dropped_bytes, 1 + 1000, 'beyond the in-flight bound, and what the UART dropped');
  assert.equal(session.input(new Uint8Array(40 * 1024), () => released++), true, 'room again');
  manager.pause(id);
  manager.stop(id);
  assert.equal(released, 3, 'stopping the VM lets every waiting client go');
});

test('device events: at most 10 lines per VM in 10 s, then one line says how many were suppressed', () => {
  const { manager, threads, logs, spec, advanceMs } = setup();
  const id = manager.create(spec('e')).id;
  manager.start(id);
  for (let i = 0; i < 1000; i++) threads[0].emit({ t: 'device-event', device: 'virtio-net eth0', reason: `bad descriptor ${i}\nstack`, internal: false });
  assert.equal(logs.length, 10);
  assert.equal(logs[0], `tvisor: VM ${id} (e): virtio-net eth0: bad descriptor 0`);
  advanceMs(10_000);
  threads[0].emit({ t: 'device-event', device: 'virtio-net eth0', reason: 'again', internal: false });
  assert.deepEqual(logs.slice(10), [`tvisor: VM ${id} (e): … 990 more device events suppressed`, `tvisor: VM ${id} (e): virtio-net eth0: again`]);
  for (let i = 0; i < 20; i++) threads[0].emit({ t: 'device-event', device: 'virtio-blk vda', reason: 'bad', internal: false });
  manager.stop(id);
  assert.ok(logs.includes(`tvisor: VM ${id} (e): … 11 more device events suppressed`), 'the count is not lost when the VM ends');
});

test('frames: a VM thread that does not take its frames gets at most NIC_FRAMES_IN_FLIGHT; acks make room', async () => {
  const { manager, threads, spec } = setup();
  const a = manager.create(spec('a', 1)).id;
  const b = manager.create(spec('b', 1)).id;
  manager.start(a);
  manager.start(b);
  const [ta, tb] = threads;
  const frame = new Uint8Array(60);
  frame.fill(0xff, 0, 6); // broadcast
  frame.set([0x02, 0, 0, 0, 0, 1], 6);
  const framesTo = (t: typeof tb) => t.sent.filter((m) => m.t === 'frame').length;
  for (let i = 0; i < 1000; i++) {
    ta.emit({ t: 'frame', nic: 0, frame });
    if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // the switch delivers asynchronously
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(framesTo(tb), NIC_FRAMES_IN_FLIGHT);
  tb.emit({ t: 'frame-ack', nic: 0, frames: 100 });
  for (let i = 0; i < 200; i++) ta.emit({ t: 'frame', nic: 0, frame });
  await new Promise((r) => setImmediate(r));
  assert.equal(framesTo(tb), NIC_FRAMES_IN_FLIGHT + 100);
  assert.equal(manager.inspect(b).stats.net_rx_dropped_packets, 1200 - NIC_FRAMES_IN_FLIGHT - 100, 'every frame not sent is counted for the VM');
  assert.ok(manager.network.stats().some((p) => p.stats.drops > 0), 'the rest were counted as drops at the port');
});
