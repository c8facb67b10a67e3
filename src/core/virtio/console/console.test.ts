// virtio-console through the mock driver: output, input with and without posted buffers, emergency write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../../machine/memory.js';
import { Reg } from '../constants.js';
import { VirtioMmio } from '../mmio.js';
import { MockDriver } from '../mock-driver.js';
import { VirtioConsole } from './console.js';

function setup() {
  const ram = new GuestRam(0x8000_0000, 1 << 20);
  const out: number[] = [];
  const con = new VirtioConsole((b) => out.push(...b), { cols: 132, rows: 43 });
  const dev = new VirtioMmio(con, ram, { set: () => {} });
  return { con, drv: new MockDriver(dev, ram), out };
}

test('virtio-console: the guest output reaches the host, in order', () => {
  const { drv, out } = setup();
  drv.init();
  drv.add(1, [{ data: new TextEncoder().encode('hello ') }]);
  drv.add(1, [{ data: new TextEncoder().encode('hvc0') }, { data: Uint8Array.of(10) }]);
  drv.kick(1);
  assert.equal(new TextDecoder().decode(Uint8Array.from(out)), 'hello hvc0\n');
  assert.equal(drv.used(1).length, 2);
});

test('virtio-console: host input waits for receive buffers and is split across them', () => {
  const { con, drv } = setup();
  drv.init();
  con.receive(new TextEncoder().encode('abcdefgh'));
  drv.add(0, [{ writable: 3 }]);
  drv.add(0, [{ writable: 16 }]);
  drv.kick(0);
  const used = drv.used(0);
  assert.deepEqual(used.map((u) => new TextDecoder().decode(u.data.subarray(0, u.len))), ['abc', 'defgh']);
  con.receive(new TextEncoder().encode('z'));
  assert.equal(drv.used(0).length, 0, 'no buffer left: kept');
  drv.add(0, [{ writable: 4 }]);
  drv.kick(0);
  const [u] = drv.used(0);
  assert.equal(new TextDecoder().decode(u.data.subarray(0, u.len)), 'z');
  assert.equal(con.stats.rxBytes, 9);
});

test('virtio-console: size and emergency write in the configuration space; backlog is bounded', () => {
  const { con, drv, out } = setup();
  drv.init();
  assert.equal(drv.reg(Reg.Config) & 0xffff, 132);
  assert.equal(drv.reg(Reg.Config) >>> 16, 43);
  drv.setReg(Reg.Config + 8, 0x21);
  assert.deepEqual(out, [0x21]);
  con.receive(new Uint8Array(70 * 1024));
  assert.equal(con.stats.rxDropped, 6 * 1024);
});
