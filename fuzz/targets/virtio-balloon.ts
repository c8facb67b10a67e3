// Fuzz target: virtio-balloon (inflate and deflate with any page numbers, statistics, targets from the host),
// driven by a hostile guest (fuzz/lib/virtio.ts).
import { VirtioBalloon } from '../../src/core/virtio/balloon/balloon.js';
import { BASE, RAM_SIZE, runGuest } from '../lib/virtio.js';

export function fuzz(data: Uint8Array): void {
  runGuest(data, (b) => {
    const device = new VirtioBalloon({ ramBase: BASE, ramSize: RAM_SIZE, deflateOnOom: b.bool() });
    return {
      device,
      request(b, q) {
        const out = new Uint8Array(b.u8() % 16 * (q === 2 ? 10 : 4));
        const v = new DataView(out.buffer);
        for (let i = 0; i + 4 <= out.length; i += 4) {
          // page frame numbers in, near and far outside guest RAM; stats entries are tag u16 + value u64
          v.setUint32(i, b.bool() ? BASE / 4096 + b.u8() % 72 : b.u32(), true);
        }
        return out;
      },
      hostEvent(b) {
        device.setTarget(b.bool() ? b.u32() * 4096 : b.u8() * 4096);
      },
    };
  });
}
