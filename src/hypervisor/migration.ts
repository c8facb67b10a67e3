// Live migration's policy and its gathered pages (issue 15): how many pre-copy rounds, and when few enough
// pages are left to stop the guest for the rest. Pages travel as core/snapshot/pages.ts packs them.

/** Rounds of pre-copy at most (the first sends everything): a guest writing faster than the copy stops anyway. */
export const PRECOPY_ROUNDS = 8;
/** Few enough pages written in a round (1 MiB) to copy the rest with the guest stopped. */
export const STOP_COPY_PAGES = 256;

/** The latest copy of each page gathered over the rounds, packed (core/snapshot/pages.ts) in ascending order. */
export function packPages(copy: ReadonlyMap<number, Uint8Array>): ArrayBuffer {
  const indices = [...copy.keys()].sort((a, b) => a - b);
  const out = new Uint8Array(indices.length * 4100);
  const v = new DataView(out.buffer);
  indices.forEach((p, i) => {
    v.setUint32(i * 4100, p, true);
    out.set(copy.get(p)!, i * 4100 + 4);
  });
  return out.buffer;
}
