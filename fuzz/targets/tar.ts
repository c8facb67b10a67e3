// Fuzz target: the streaming tar reader (ustar, pax, GNU long names), fed in chunks the input chooses. Anything
// it cannot read ends in a TarError; sizes it reports are sane and wanted data has the reported size.
import { readTar, TarError } from '../../src/images/tar.js';
import { Bytes, expectOnly } from '../lib/bytes.js';

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export async function fuzz(data: Uint8Array): Promise<void> {
  const b = new Bytes(data);
  const chunk = 1 + b.u8() * 8;
  const wantEvery = b.u8() % 3;
  try {
    let i = 0;
    for await (const e of readTar(chunks(b.rest(), chunk), () => i++ % 3 >= wantEvery)) {
      if (!Number.isSafeInteger(e.size) || e.size < 0) throw new Error(`entry size ${e.size}`);
      if (e.data && e.data.length !== e.size && e.type === 'file') throw new Error(`data of ${e.data.length} bytes for size ${e.size}`);
    }
  } catch (e) {
    expectOnly(e, TarError);
  }
}
