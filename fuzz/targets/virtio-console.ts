// Fuzz target: virtio-console (output, host input waiting for receive buffers, resizes), driven by a hostile
// guest (fuzz/lib/virtio.ts).
import { VirtioConsole } from '../../src/core/virtio/console/console.js';
import { runGuest } from '../lib/virtio.js';

export function fuzz(data: Uint8Array): void {
  runGuest(data, () => {
    const device = new VirtioConsole(() => {});
    return {
      device,
      hostEvent(b) {
        if (b.bool()) device.resize(b.u16(), b.u16());
        else device.receive(b.bool() ? b.bytes(b.u8()) : new Uint8Array(b.u16() * 4));
      },
    };
  });
}
