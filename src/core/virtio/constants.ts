// Virtio 1.2 constants shared by the transport and the devices: device ids (5), status bits (2.1),
// reserved feature bits (6) and the virtio-mmio register map (4.2.2).

/** Device ids (virtio 1.2 section 5). */
export const enum DeviceId {
  Net = 1,
  Block = 2,
  Console = 3,
  Entropy = 4,
  Balloon = 5,
}

/** Device status field (2.1). */
export const enum Status {
  ACKNOWLEDGE = 1, // the guest noticed the device
  DRIVER = 2, // the guest knows how to drive it
  DRIVER_OK = 4, // the driver is set up and ready
  FEATURES_OK = 8, // feature negotiation is complete
  DEVICE_NEEDS_RESET = 64, // the device hit an error it cannot recover from without a reset
  FAILED = 128, // the guest gave up on the device
}

/** Reserved feature bits (6), as bigint masks over the 64-bit feature space. */
export const F_RING_INDIRECT_DESC = 1n << 28n; // descriptors may point to a table of descriptors
export const F_RING_EVENT_IDX = 1n << 29n; // used_event / avail_event notification suppression
export const F_VERSION_1 = 1n << 32n; // the modern (non-legacy) interface

/** Split virtqueue descriptor flags (2.7.5). */
export const enum DescFlag {
  NEXT = 1, // the chain continues at `next`
  WRITE = 2, // device-writable (otherwise device-readable)
  INDIRECT = 4, // the buffer holds a table of descriptors
}

/** Largest split virtqueue (2.7). */
export const MAX_QUEUE_SIZE = 32768;

/** virtio-mmio registers (4.2.2), byte offsets from the device's base. */
export const enum Reg {
  MagicValue = 0x000, // "virt"
  Version = 0x004, // 2 = modern
  DeviceID = 0x008,
  VendorID = 0x00c,
  DeviceFeatures = 0x010,
  DeviceFeaturesSel = 0x014,
  DriverFeatures = 0x020,
  DriverFeaturesSel = 0x024,
  QueueSel = 0x030,
  QueueNumMax = 0x034,
  QueueNum = 0x038,
  QueueReady = 0x044,
  QueueNotify = 0x050,
  InterruptStatus = 0x060,
  InterruptACK = 0x064,
  Status = 0x070,
  QueueDescLow = 0x080,
  QueueDescHigh = 0x084,
  QueueDriverLow = 0x090,
  QueueDriverHigh = 0x094,
  QueueDeviceLow = 0x0a0,
  QueueDeviceHigh = 0x0a4,
  SHMSel = 0x0ac,
  SHMLenLow = 0x0b0,
  SHMLenHigh = 0x0b4,
  SHMBaseLow = 0x0b8,
  SHMBaseHigh = 0x0bc,
  QueueReset = 0x0c0,
  ConfigGeneration = 0x0fc,
  Config = 0x100,
}

export const MMIO_MAGIC = 0x74726976; // "virt" little-endian
/**
 * Vendor id every virtio-mmio device reports: QEMU's ("QEMU", 0x554d4551), as on QEMU's virt board, whose map
 * tvisor's board follows. The spec gives this register no meaning a driver must act on (4.2.2: the subsystem
 * vendor), and Linux ignores it, but programs written for that board check it (xv6's disk driver refuses a
 * device with another id); a guest is not to tell tvisor's board from QEMU's by it.
 */
export const VIRTIO_MMIO_VENDOR_ID = 0x554d4551;
/** Size of one virtio-mmio window (QEMU virt spacing). */
export const VIRTIO_MMIO_SIZE = 0x1000;

/** InterruptStatus bits (4.2.2). */
export const enum Irq {
  USED_BUFFER = 1,
  CONFIG_CHANGE = 2,
}
