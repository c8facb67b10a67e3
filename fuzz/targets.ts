// The fuzz targets: each is dist/fuzz/targets/<name>.js exporting fuzz(data), called by Jazzer.js when fuzzing
// and by regressions.test.ts when replaying the committed inputs. maxLen bounds libFuzzer's inputs.

export interface TargetInfo {
  /** Largest input libFuzzer generates. */
  maxLen: number;
  /** What it exercises, for the README and --help. */
  about: string;
  /** fuzz() returns a promise (Jazzer must then await each run instead of calling it synchronously). */
  async?: boolean;
}

export const TARGETS: Record<string, TargetInfo> = {
  api: { maxLen: 4096, about: 'parseRequest against the OpenAPI schemas (src/api/actions.ts, schema.ts)' },
  elf: { maxLen: 8192, about: 'parseElf and the ELF kernel layout (src/core/machine/elf.ts, linux.ts)' },
  image: { maxLen: 8192, about: 'parseKernelImage on a BootFile, boot layout and loading into RAM (linux.ts)' },
  'virtio-blk': { maxLen: 4096, about: 'virtqueue + virtio-blk over a memory disk, through the mock driver' },
  'virtio-net': { maxLen: 4096, about: 'virtqueue + virtio-net (tx, rx, merged buffers, TSO) through the mock driver' },
  'virtio-console': { maxLen: 4096, about: 'virtqueue + virtio-console through the mock driver' },
  'virtio-rng': { maxLen: 4096, about: 'virtqueue + virtio-rng through the mock driver' },
  'virtio-balloon': { maxLen: 4096, about: 'virtqueue + virtio-balloon (inflate, deflate, stats) through the mock driver' },
  overlay: { maxLen: 12288, about: 'the copy-on-write overlay file format (src/host/node/block-file.ts)' },
  cpio: { maxLen: 4096, about: 'readCpio (src/images/cpio.ts)' },
  tar: { maxLen: 8192, about: 'readTar with pax and GNU headers (src/images/tar.ts)', async: true },
  ar: { maxLen: 4096, about: 'listAr (src/images/ar.ts)' },
  deb: { maxLen: 8192, about: 'a .deb from memory: ar, compression, tar (src/images/deb.ts)', async: true },
  sbi: { maxLen: 2048, about: 'SBI ecalls with guest-chosen registers on a 2-hart machine (src/core/sbi/sbi.ts)' },
};
