// Fuzz target: virtio-blk over a 64 KiB memory disk (read-only or not, maybe rate limited), driven by a hostile
// guest (fuzz/lib/virtio.ts); requests carry headers with any type and sector.
import { MemoryBlockBackend } from '../../src/core/virtio/blk/backend.js';
import { VirtioBlk } from '../../src/core/virtio/blk/blk.js';
import { fuzzLimiter, runGuest } from '../lib/virtio.js';

const TYPES = [0, 1, 4, 8, 11, 13, 2, 0xffffffff];

export function fuzz(data: Uint8Array): void {
  runGuest(data, (b) => {
    const disk = new Uint8Array(64 * 1024);
    const device = new VirtioBlk({ backend: new MemoryBlockBackend(disk, b.bool()), serial: 'fuzz', limiter: fuzzLimiter(b) });
    return {
      device,
      request(b) {
        const h = new Uint8Array(16 + (b.bool() ? 16 : 0));
        const v = new DataView(h.buffer);
        v.setUint32(0, b.bool() ? b.pick(TYPES) : b.u32(), true);
        v.setUint32(8, b.bool() ? b.u8() : b.u32(), true);
        v.setUint32(12, b.bool() ? 0 : b.u32(), true);
        if (h.length > 16) { // a discard / write-zeroes segment: sector, num_sectors, flags
          v.setUint32(16, b.u16(), true);
          v.setUint32(24, b.bool() ? b.u8() : b.u32(), true);
          v.setUint32(28, b.u8(), true);
        }
        return h;
      },
    };
  });
}
