// Fuzz target: virtio-rng, the smallest device, so the fuzzer's effort goes to the virtqueue itself
// (descriptor chains, indirect tables, ring indices, event suppression) driven by a hostile guest.
import { VirtioRng } from '../../src/core/virtio/rng/rng.js';
import { runGuest } from '../lib/virtio.js';

export function fuzz(data: Uint8Array): void {
  runGuest(data, () => ({
    device: new VirtioRng((n) => {
      if (n > 65536) throw new Error(`virtio-rng drew ${n} bytes at once`);
      return new Uint8Array(n).fill(0x5a);
    }),
  }));
}
