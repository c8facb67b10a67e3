// Fuzz target: virtio-net (tx with checksum offload and TSO, rx with merged buffers, backlog, link changes,
// rate limits), driven by a hostile guest (fuzz/lib/virtio.ts) and frames arriving from the host.
import { VirtioNet } from '../../src/core/virtio/net/net.js';
import type { NetBackend } from '../../src/core/virtio/net/backend.js';
import { fuzzLimiter, runGuest } from '../lib/virtio.js';

export function fuzz(data: Uint8Array): void {
  runGuest(data, (b) => {
    let deliver: (frame: Uint8Array) => void = () => {};
    const backend: NetBackend = {
      send(frame) {
        if (frame.length === 0 || frame.length > 65550) throw new Error(`virtio-net sent a frame of ${frame.length} bytes`);
      },
      setReceiver(r) {
        deliver = r;
      },
      close() {},
    };
    const mtu = b.bool() ? 68 + b.u16() % 65468 : undefined;
    const device = new VirtioNet({ mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56), backend, mtu, txLimiter: fuzzLimiter(b), rxLimiter: fuzzLimiter(b) });
    return {
      device,
      request(b, q) {
        if (q === 0) return new Uint8Array(0);
        // virtio_net_hdr (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers) + a frame
        const hdr = b.bytes(12);
        const frame = new Uint8Array(12 + 14 + b.u16() % 3000);
        frame.set(hdr);
        frame.set(b.bytes(frame.length - 12), 12);
        return frame;
      },
      hostEvent(b) {
        switch (b.u8() % 3) {
          case 0: device.setLink(b.bool()); break;
          case 1: deliver(b.bytes(b.u16() % 2000)); break;
          case 2: deliver(new Uint8Array(b.pick([14, 1514, 9000, 65550, 65551]))); break;
        }
      },
    };
  });
}
