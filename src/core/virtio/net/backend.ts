// The host side of a virtio-net interface, as the core sees it: a port that carries whole Ethernet frames
// (no virtio header). Backends: sockets to another tvisor process (src/host/node), the in-process virtual
// switch (src/hypervisor/switch.ts), tests.

/** Ethernet header: destination and source MAC, EtherType. */
export const ETH_HLEN = 14;

/** Largest frame either way: a 64 KiB IP packet plus the Ethernet header (and a little slack). */
export const MAX_FRAME = 65550;

export interface NetBackend {
  /** A frame from the guest to the wire (destination MAC first, no FCS). Must not throw. */
  send(frame: Uint8Array): void;
  /** Installs the function that receives frames from the wire for the guest (replacing any earlier one). */
  setReceiver(receive: (frame: Uint8Array) => void): void;
  /** Disconnects and releases host resources. */
  close(): void;
}
