// Saved state of the machine's pieces (issue 15): each device turns its state into a plain-data record and
// back, as Firecracker's devices do with their `persist` records. A record holds numbers, booleans, strings and
// arrays only, so it survives JSON and structured clone; 64-bit values are decimal strings. restore() checks a
// whole record before it changes anything: one of another version, or with a field missing, of the wrong type
// or out of range, is refused with a SnapshotError that names the field, and the device is left as it was.
import type { LimiterState } from '../virtio/limiter.js';

/** A snapshot or state record that cannot be used; the message says which and why. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** Reads the fields of one record, checking each; `where` names the record in errors ("clint", "uart0"). */
export class RecordReader {
  private readonly o: Record<string, unknown>;

  /** Refuses anything but an object of `version` (undefined: a part of a record, with no version of its own). */
  constructor(record: unknown, private readonly where: string, version: number | undefined) {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw this.bad('is not an object');
    this.o = record as Record<string, unknown>;
    if (version !== undefined && this.o.version !== version) {
      throw this.bad(`is of version ${JSON.stringify(this.o.version)}; this tvisor reads version ${version}`);
    }
  }

  private bad(why: string, key?: string): SnapshotError {
    return new SnapshotError(`snapshot: ${this.where}${key === undefined ? '' : `.${key}`} ${why}`);
  }

  /** An array of exactly `length` values, each to be read on its own (records of the parts). */
  records(key: string, length: number): unknown[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length !== length) throw this.bad(`must be an array of ${length} records`, key);
    return v;
  }

  /** An array of [name, number] pairs (names of at most 64 characters, numbers any finite value). */
  pairs(key: string): [string, number][] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length > 1024) throw this.bad('must be an array of at most 1024 [name, number] pairs', key);
    return v.map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || p[0].length > 64 || typeof p[1] !== 'number' || !Number.isFinite(p[1])) {
        throw this.bad('must be a [name, number] pair', `${key}[${i}]`);
      }
      return [p[0], p[1]];
    });
  }

  /** An array of at most `maxItems` base64 strings, decoded, of `maxBytes` in all at most. */
  base64s(key: string, maxItems: number, maxBytes: number): Uint8Array[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length > maxItems) throw this.bad(`must be an array of at most ${maxItems} base64 strings`, key);
    let total = 0;
    return v.map((x, i) => {
      if (typeof x !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(x) || x.length % 4 !== 0) throw this.bad('must be base64', `${key}[${i}]`);
      total += (x.length / 4) * 3;
      if (total > maxBytes + 3 * maxItems) throw this.bad(`holds more than ${maxBytes} bytes`, key);
      const bin = atob(x);
      return Uint8Array.from(bin, (c) => c.charCodeAt(0));
    });
  }

  /** A limiter's tokens (LimiterState), or null when the device had no limiter. */
  limiter(key: string): LimiterState | null {
    const v = this.o[key];
    if (v === null) return null;
    const r = new RecordReader(v, `${this.where}.${key}`, undefined);
    return { bandwidth: r.bucket('bandwidth'), ops: r.bucket('ops') };
  }

  private bucket(key: string): { budget: number; burst: number } | null {
    const v = this.o[key];
    if (v === null) return null;
    const r = new RecordReader(v, `${this.where}.${key}`, undefined);
    return { budget: r.finite('budget'), burst: r.finite('burst') };
  }

  /** A finite number of at least 0. */
  finite(key: string): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw this.bad('must be a finite number of at least 0', key);
    return v;
  }

  /** A field as it is, for the part that reads it (a device's own record). */
  raw(key: string): unknown {
    return this.o[key];
  }

  /** Exactly `bytes` bytes written as lower-case hex digits. */
  hex(key: string, bytes: number): Uint8Array {
    const v = this.o[key];
    if (typeof v !== 'string' || v.length !== 2 * bytes || !/^[0-9a-f]*$/.test(v)) throw this.bad(`must be ${2 * bytes} hex digits`, key);
    return Uint8Array.from({ length: bytes }, (_, i) => parseInt(v.slice(2 * i, 2 * i + 2), 16));
  }

  /** A whole number in [0, max]. */
  uint(key: string, max: number): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw this.bad(`must be a whole number from 0 to ${max}`, key);
    return v;
  }

  /** Any whole number a double holds exactly (|v| < 2^53). */
  safeInt(key: string): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.bad('must be a whole number below 2^53 in size', key);
    return v;
  }

  bool(key: string): boolean {
    const v = this.o[key];
    if (typeof v !== 'boolean') throw this.bad('must be true or false', key);
    return v;
  }

  /** An unsigned 64-bit value written as a decimal string, or null. */
  u64OrNull(key: string): bigint | null {
    return this.o[key] === null ? null : this.u64(key);
  }

  /** An unsigned 64-bit value written as a decimal string. */
  u64(key: string): bigint {
    return this.u64Of(this.o[key], key);
  }

  private u64Of(v: unknown, key: string): bigint {
    if (typeof v !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(v) || BigInt(v) >= 1n << 64n) {
      throw this.bad('must be an unsigned 64-bit number written as a decimal string', key);
    }
    return BigInt(v);
  }

  /** An array of exactly `length` whole numbers in [0, max] (length -1: up to `maxLength` of them). */
  uints(key: string, length: number, max: number, maxLength = length): number[] {
    const v = this.o[key];
    const n = Array.isArray(v) ? v.length : -1;
    if (!Array.isArray(v) || (length >= 0 ? n !== length : n > maxLength)) {
      throw this.bad(length >= 0 ? `must be an array of ${length} numbers` : `must be an array of at most ${maxLength} numbers`, key);
    }
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) throw this.bad(`must hold whole numbers from 0 to ${max}`, `${key}[${i}]`);
    });
    return v as number[];
  }

  /** An array of exactly `length` unsigned 64-bit decimal strings or nulls. */
  u64OrNullArray(key: string, length: number): (bigint | null)[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length !== length) throw this.bad(`must be an array of ${length} decimal strings or nulls`, key);
    return v.map((x, i) => (x === null ? null : this.u64Of(x, `${key}[${i}]`)));
  }

  /** An array of exactly `length` unsigned 64-bit decimal strings. */
  u64s(key: string, length: number): bigint[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length !== length) throw this.bad(`must be an array of ${length} decimal strings`, key);
    return v.map((x, i) => this.u64Of(x, `${key}[${i}]`));
  }
}

/** The decimal string a record holds for an unsigned 64-bit value. */
export const u64Text = (v: bigint): string => BigInt.asUintN(64, v).toString();

/** Bytes as the base64 text a record holds (RecordReader.base64s reads it back); btoa runs in browsers and Node. */
export function base64Text(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
