// Fuzz target: the ar reader (.deb containers). Anything it cannot read ends in an ArError; members lie inside
// the archive.
import { arMemberData, ArError, listAr } from '../../src/images/ar.js';
import { expectOnly } from '../lib/bytes.js';

export function fuzz(data: Uint8Array): void {
  try {
    for (const m of listAr(data)) {
      if (!Number.isSafeInteger(m.size) || m.offset + m.size > data.length) throw new Error(`member ${m.name} at ${m.offset} (${m.size} bytes) outside the archive`);
      if (arMemberData(data, m).length !== m.size) throw new Error('member data shorter than its size');
    }
  } catch (e) {
    expectOnly(e, ArError);
  }
}
