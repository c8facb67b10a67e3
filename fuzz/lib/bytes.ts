// Reads a fuzz input as a stream of small decisions (the role of libFuzzer's FuzzedDataProvider), so one byte
// string drives a whole scenario. Past the end every read gives zero, so any input is a valid program.

export class Bytes {
  private at = 0;

  constructor(readonly data: Uint8Array) {}

  get left(): number {
    return this.data.length - this.at;
  }

  u8(): number {
    return this.at < this.data.length ? this.data[this.at++] : 0;
  }

  u16(): number {
    return this.u8() | (this.u8() << 8);
  }

  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }

  bool(): boolean {
    return (this.u8() & 1) === 1;
  }

  /** An integer in [0, n) (n ≥ 1). */
  below(n: number): number {
    return n <= 256 ? this.u8() % n : this.u32() % n;
  }

  pick<T>(choices: readonly T[]): T {
    return choices[this.below(choices.length)];
  }

  /** The next `n` bytes (fewer at the end). */
  bytes(n: number): Uint8Array {
    const out = this.data.subarray(this.at, Math.min(this.data.length, this.at + n));
    this.at += out.length;
    return out;
  }

  rest(): Uint8Array {
    return this.bytes(this.left);
  }
}

/** Rethrows `e` unless it is one of the error types the target documents: anything else is a defect. */
export function expectOnly(e: unknown, ...types: (abstract new (...args: never[]) => Error)[]): void {
  if (types.some((t) => e instanceof t)) {
    if ((e as Error).message.trim() === '') throw new Error(`${(e as Error).name} without a message`);
    return;
  }
  throw e;
}
