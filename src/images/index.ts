// Guest images from Debian: the public API of src/images. The pure modules (cpio, ar, tar, deb, xz, index
// parsing, module resolution, initramfs) run anywhere; ./node/ holds the downloads, cache and signatures.
export { buildInitramfs, appendAutorun, initScript, DEFAULT_GUEST_MODULES, AUTORUN_EXIT_PREFIX, type InitramfsModule, type InitramfsOptions } from './initramfs.js';
export { readCpio, writeCpio, type CpioEntry, type CpioReadEntry } from './cpio.js';
export { ImageError } from './errors.js';
export {
  currentGuest, defaultCacheDir, ensureDefaultGuest, listCache, pullDefaultGuest, readGuestParts,
  DEFAULT_SUITE, type CacheListing, type GuestImage, type GuestManifest, type GuestOptions,
} from './node/guest.js';
