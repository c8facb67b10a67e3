// mip.SEIP read-modify-write (Privileged Spec 3.1.9): reads OR the software bit with the external line, but
// CSRRS/CSRRC modify only the software bit. Firmware sets SSIP with `csrs mip` while a PLIC line may be high;
// latching that line into the software bit caused an endless external-interrupt storm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from './hart.js';
import { MIP_SEIP, MIP_SSIP } from './bits.js';

const BASE = 0x8000_0000;

function hartWith(program: number[]): Hart {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram);
  const clint = new Clint(new Timebase({ nowNs: () => 0 }), 1);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code, clint });
  const words = new Uint8Array(new Uint32Array(program).buffer);
  ram.write(BASE, words);
  h.reset(BASE | 0, 0);
  return h;
}

// li t0, 2 (SSIP); csrrs t1, mip, t0; csrrc x0, mip, t0; csrrs t2, mip, x0; j .
const ADDI_T0_2 = 0x00200293;
const CSRRS_T1_MIP_T0 = 0x3442a373;
const CSRRC_X0_MIP_T0 = 0x3442b073;
const CSRRS_T2_MIP_X0 = 0x344023f3;
const JUMP_SELF = 0x0000006f;

test('csrs/csrc on mip do not latch the external SEIP line into the software bit', () => {
  const h = hartWith([ADDI_T0_2, CSRRS_T1_MIP_T0, CSRRC_X0_MIP_T0, CSRRS_T2_MIP_X0, JUMP_SELF]);
  h.irqLines = MIP_SEIP; // the PLIC raises the S external line
  h.run(2); // li, csrrs
  assert.equal(h.x[2 * 6] & MIP_SEIP, MIP_SEIP, 'the read returns the line ORed in');
  assert.equal(h.mip() & MIP_SSIP, MIP_SSIP, 'csrs set SSIP');
  h.irqLines = 0; // the device lowers its line
  assert.equal(h.mip() & MIP_SEIP, 0, 'SEIP follows the line: nothing latched');
  h.run(2); // csrrc, csrrs x0
  assert.equal(h.x[2 * 7] & (MIP_SEIP | MIP_SSIP), 0, 'SSIP cleared, SEIP still clear');
});

test('a software write of SEIP sticks until software clears it', () => {
  // li t0, 0x200 (SEIP); csrs mip, t0; csrc mip, t0; j .
  const h = hartWith([0x20000293, 0x3442a073, 0x3442b073, JUMP_SELF]);
  h.run(2);
  assert.equal(h.mip() & MIP_SEIP, MIP_SEIP);
  h.run(1);
  assert.equal(h.mip() & MIP_SEIP, 0);
});
