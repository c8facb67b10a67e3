// RAM pages in flight (live migration, issue 15): a batch is one buffer of (page index u32 little-endian,
// 4096 bytes) records, made in the thread that runs the machine and transferred, not copied, to the one that
// gathers them. Host-neutral.
const PAGE = 4096;
/** Bytes of one page record in a batch. */
export const PAGE_RECORD = 4 + PAGE;
const RECORD = PAGE_RECORD;

/** The pages of `ram` (a machine's RAM bytes) at `indices`, packed into one transferable buffer. */
export function packPages(ram: Uint8Array, indices: readonly number[]): ArrayBuffer {
  return packRecords(indices.map((p) => [p, ram.subarray(p * PAGE, (p + 1) * PAGE)]));
}

/** Pages given as (index, 4096 bytes) pairs, packed in the order given. */
export function packRecords(pages: readonly (readonly [number, Uint8Array])[]): ArrayBuffer {
  const out = new Uint8Array(pages.length * RECORD);
  const v = new DataView(out.buffer);
  pages.forEach(([p, data], i) => {
    v.setUint32(i * RECORD, p, true);
    out.set(data, i * RECORD + 4);
  });
  return out.buffer;
}

/** Calls `each` for every page of a packed batch, in order; the data are views into `batch`. */
export function unpackPages(batch: ArrayBuffer, each: (index: number, data: Uint8Array) => void): void {
  if (batch.byteLength % RECORD !== 0) throw new RangeError(`a batch of pages is ${batch.byteLength} bytes, not a whole number of ${RECORD}-byte records`);
  const v = new DataView(batch);
  for (let o = 0; o < batch.byteLength; o += RECORD) each(v.getUint32(o, true), new Uint8Array(batch, o + 4, PAGE));
}

/** The pages of RAM ever written and not all zero: what a copy of the machine needs besides its state. */
export function nonzeroTouched(ram: Uint8Array, touched: Uint8Array): number[] {
  const out: number[] = [];
  const w = new Int32Array(ram.buffer, ram.byteOffset, ram.byteLength >> 2);
  for (let p = 0; p < touched.length; p++) {
    if (touched[p] === 0) continue;
    for (let i = p * (PAGE / 4), end = i + PAGE / 4; i < end; i++) {
      if (w[i] !== 0) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}
