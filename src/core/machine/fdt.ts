// Flattened devicetree (DTB) writer and reader, per the Devicetree Specification v0.4 chapter 5
// (header, memory reservation block, structure block, strings block; version 17, big-endian).

const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMP_VERSION = 16;
const HEADER_SIZE = 40; // ten big-endian u32 fields

// Structure block tokens (spec 5.4.1).
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;

/** A node of a parsed devicetree: property values are raw big-endian bytes. */
export interface FdtNode {
  name: string;
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

/** Everything a DTB holds: the tree plus the header's boot CPU and the memory reservations. */
export interface FdtBlob {
  root: FdtNode;
  version: number;
  lastCompVersion: number;
  bootCpuId: number;
  reserve: [bigint, bigint][];
}

/** Values accepted by FdtWriter.prop: u32, u32 cells, u64, string, string list, raw bytes, or empty (null). */
export type FdtValue = number | readonly number[] | bigint | string | readonly string[] | Uint8Array | null;

export interface FdtFinishOptions {
  /** The header's boot_cpuid_phys: the reg value of the CPU node that boots. Default 0. */
  bootCpuId?: number;
  /** Memory reservation block entries, [address, size]. */
  reserve?: readonly (readonly [bigint, bigint])[];
}

// Spec 2.2.1 (node names: 1-31 characters, starting with a letter, then an optional @unit-address) and
// 2.2.4 (property names, Table 2.2).
const NODE_NAME = /^[A-Za-z][0-9A-Za-z,._+-]{0,30}(@[0-9A-Za-z,._+-]+)?$/;
const PROP_NAME = /^[0-9A-Za-z,._+?#-]{1,31}$/;

const U64_MAX = (1n << 64n) - 1n;

/** A growable big-endian byte buffer. */
class ByteSink {
  bytes = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let cap = this.bytes.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  u32(v: number): void {
    this.reserve(4);
    const b = this.bytes;
    const i = this.length;
    b[i] = v >>> 24;
    b[i + 1] = (v >>> 16) & 0xff;
    b[i + 2] = (v >>> 8) & 0xff;
    b[i + 3] = v & 0xff;
    this.length += 4;
  }

  put(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** Zero bytes up to a multiple of `n` (the buffer is zero-filled, so only the length moves). */
  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.reserve(pad);
    this.length += pad;
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

interface OpenNode {
  name: string;
  props: Set<string>;
  children: Set<string>;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/**
 * Builds a DTB: begin('') opens the root, begin(name)/end() nest nodes, prop*(…) add properties to the
 * innermost open node (before any of its children), finish() returns the blob.
 */
export class FdtWriter {
  private readonly struct = new ByteSink();
  private readonly strings = new ByteSink();
  private readonly stringOffsets = new Map<string, number>();
  private readonly stack: OpenNode[] = [];
  private readonly encoder = new TextEncoder();
  private rootDone = false;
  private finished = false;
  private nextPhandle = 1;

  /** A fresh phandle value (1, 2, …); 0 and 0xffffffff are never valid phandles. */
  allocPhandle(): number {
    if (this.nextPhandle >= 0xffffffff) throw new Error('fdt: out of phandles');
    return this.nextPhandle++;
  }

  /** Open a node. The first node is the root and must be named ''. */
  begin(name: string): this {
    this.checkOpen();
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      if (this.rootDone) throw new Error('fdt: a devicetree has one root node');
      if (name !== '') throw new Error(`fdt: the root node must be named '', got '${name}'`);
    } else {
      if (!NODE_NAME.test(name)) throw new Error(`fdt: invalid node name '${name}'`);
      if (parent.children.has(name)) throw new Error(`fdt: duplicate node '${name}' in ${this.path()}`);
      parent.children.add(name);
    }
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.put(this.encoder.encode(name));
    this.struct.put(new Uint8Array(1));
    this.struct.align(4);
    this.stack.push({ name, props: new Set(), children: new Set() });
    return this;
  }

  /** Close the innermost open node. */
  end(): this {
    this.checkOpen();
    if (this.stack.length === 0) throw new Error('fdt: end() without a matching begin()');
    this.stack.pop();
    this.struct.u32(FDT_END_NODE);
    if (this.stack.length === 0) this.rootDone = true;
    return this;
  }

  /** Add a property, choosing the encoding from the value's type (see FdtValue). */
  prop(name: string, value: FdtValue): this {
    if (value === null) return this.propEmpty(name);
    if (typeof value === 'number') return this.propU32(name, value);
    if (typeof value === 'bigint') return this.propU64(name, value);
    if (typeof value === 'string') return this.propString(name, value);
    if (value instanceof Uint8Array) return this.propBytes(name, value);
    if (value.length === 0) return this.propEmpty(name);
    if (value.every((v: unknown) => typeof v === 'string')) return this.propStrings(name, value as readonly string[]);
    if (value.every((v: unknown) => typeof v === 'number')) return this.propCells(name, value as readonly number[]);
    throw new Error(`fdt: property '${name}' mixes strings and numbers`);
  }

  propEmpty(name: string): this {
    return this.propBytes(name, new Uint8Array(0));
  }

  propU32(name: string, n: number): this {
    return this.propCells(name, [n]);
  }

  /** A <prop-encoded-array> of 32-bit cells. */
  propCells(name: string, cells: readonly number[]): this {
    const out = new Uint8Array(4 * cells.length);
    const dv = new DataView(out.buffer);
    cells.forEach((c, i) => {
      if (!isU32(c)) throw new Error(`fdt: property '${name}': cell ${c} is not a u32`);
      dv.setUint32(4 * i, c);
    });
    return this.propBytes(name, out);
  }

  /** A 64-bit value as two cells, high word first. */
  propU64(name: string, n: bigint): this {
    if (n < 0n || n > U64_MAX) throw new Error(`fdt: property '${name}': ${n} is not a u64`);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, n);
    return this.propBytes(name, out);
  }

  propString(name: string, s: string): this {
    return this.propStrings(name, [s]);
  }

  /** A <stringlist>: each string NUL-terminated. */
  propStrings(name: string, list: readonly string[]): this {
    const parts: Uint8Array[] = [];
    let len = 0;
    for (const s of list) {
      if (s.includes('\0')) throw new Error(`fdt: property '${name}': string contains NUL`);
      const b = this.encoder.encode(s);
      parts.push(b);
      len += b.length + 1;
    }
    const out = new Uint8Array(len);
    let at = 0;
    for (const b of parts) {
      out.set(b, at);
      at += b.length + 1;
    }
    return this.propBytes(name, out);
  }

  propBytes(name: string, value: Uint8Array): this {
    this.checkOpen();
    const node = this.stack[this.stack.length - 1];
    if (node === undefined) throw new Error(`fdt: property '${name}' outside any node`);
    if (!PROP_NAME.test(name)) throw new Error(`fdt: invalid property name '${name}'`);
    // Spec 5.4.2: a node's properties precede its subnodes.
    if (node.children.size > 0) throw new Error(`fdt: property '${name}' after child nodes in ${this.path()}`);
    if (node.props.has(name)) throw new Error(`fdt: duplicate property '${name}' in ${this.path()}`);
    node.props.add(name);
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.put(value);
    this.struct.align(4);
    return this;
  }

  /** Close the structure block and lay out header, reservations, structure and strings. */
  finish(opts: FdtFinishOptions = {}): Uint8Array {
    this.checkOpen();
    if (this.stack.length > 0) throw new Error(`fdt: node ${this.path()} is not closed`);
    if (!this.rootDone) throw new Error('fdt: no root node');
    const bootCpuId = opts.bootCpuId ?? 0;
    if (!isU32(bootCpuId)) throw new Error(`fdt: boot CPU id ${bootCpuId} is not a u32`);
    const reserve = opts.reserve ?? [];
    for (const [addr, size] of reserve) {
      // A zero size would read as the block's terminator when the address is 0, and means nothing otherwise.
      if (addr < 0n || size <= 0n || addr + size - 1n > U64_MAX) {
        throw new Error(`fdt: bad memory reservation [0x${addr.toString(16)}, 0x${size.toString(16)}]`);
      }
    }
    this.finished = true;
    this.struct.u32(FDT_END);

    // Layout: header, reservation block (8-byte aligned, right after the 40-byte header), structure, strings.
    const offRsv = HEADER_SIZE;
    const rsvSize = 16 * (reserve.length + 1);
    const offStruct = offRsv + rsvSize;
    const sizeStruct = this.struct.length;
    const offStrings = offStruct + sizeStruct;
    const sizeStrings = this.strings.length;
    const total = offStrings + sizeStrings;

    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    const header = [
      FDT_MAGIC, total, offStruct, offStrings, offRsv, FDT_VERSION, FDT_LAST_COMP_VERSION, bootCpuId, sizeStrings,
      sizeStruct,
    ];
    header.forEach((v, i) => dv.setUint32(4 * i, v));
    reserve.forEach(([addr, size], i) => {
      dv.setBigUint64(offRsv + 16 * i, addr);
      dv.setBigUint64(offRsv + 16 * i + 8, size);
    });
    // the terminating (0, 0) entry is already zero
    out.set(this.struct.view(), offStruct);
    out.set(this.strings.view(), offStrings);
    return out;
  }

  private checkOpen(): void {
    if (this.finished) throw new Error('fdt: writer already finished');
  }

  private path(): string {
    return this.stack.length <= 1 ? '/' : this.stack.slice(1).map((n) => '/' + n.name).join('');
  }

  /** Offset of a property name in the strings block; each name is stored once. */
  private stringOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.length;
      this.strings.put(this.encoder.encode(name));
      this.strings.put(new Uint8Array(1));
      this.stringOffsets.set(name, off);
    }
    return off;
  }
}

function fail(why: string): never {
  throw new Error(`fdt: ${why}`);
}

/** Parse a DTB (version 17 header, last compatible version ≤ 17). Throws on malformed input. */
export function readFdt(bytes: Uint8Array): FdtBlob {
  if (bytes.length < HEADER_SIZE) fail('blob shorter than its header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = (i: number) => dv.getUint32(4 * i);
  if (h(0) !== FDT_MAGIC) fail(`bad magic 0x${h(0).toString(16)}`);
  const [total, offStruct, offStrings, offRsv, version, lastComp, bootCpuId, sizeStrings, sizeStruct] = [
    h(1), h(2), h(3), h(4), h(5), h(6), h(7), h(8), h(9),
  ];
  if (version < 17 || lastComp > 17) fail(`unsupported version ${version} (last compatible ${lastComp})`);
  if (total > bytes.length || total < HEADER_SIZE) fail(`totalsize ${total} does not fit the ${bytes.length}-byte blob`);
  if (offRsv % 8 !== 0 || offRsv < HEADER_SIZE || offRsv > total) fail('bad memory reservation block offset');
  if (offStruct % 4 !== 0 || offStruct + sizeStruct > total) fail('structure block out of bounds');
  if (offStrings + sizeStrings > total) fail('strings block out of bounds');

  const reserve: [bigint, bigint][] = [];
  for (let at = offRsv; ; at += 16) {
    if (at + 16 > total) fail('memory reservation block is not terminated');
    const addr = dv.getBigUint64(at);
    const size = dv.getBigUint64(at + 8);
    if (addr === 0n && size === 0n) break;
    reserve.push([addr, size]);
  }

  const decoder = new TextDecoder('utf-8', { fatal: true });
  /** The NUL-terminated string starting at `start` within [start, limit), and the offset of its NUL. */
  const cstring = (start: number, limit: number, what: string): [string, number] => {
    let end = start;
    while (end < limit && bytes[end] !== 0) end++;
    if (end >= limit) fail(`unterminated ${what}`);
    try {
      return [decoder.decode(bytes.subarray(start, end)), end];
    } catch {
      return fail(`${what} is not UTF-8`);
    }
  };

  const structEnd = offStruct + sizeStruct;
  const stringsEnd = offStrings + sizeStrings;
  const stack: FdtNode[] = [];
  let root: FdtNode | null = null;
  let at = offStruct;
  const u32 = (): number => {
    if (at + 4 > structEnd) fail('structure block ends before FDT_END');
    const v = dv.getUint32(at);
    at += 4;
    return v;
  };
  const align4 = () => {
    at = (at + 3) & ~3;
  };

  for (;;) {
    const token = u32();
    if (token === FDT_NOP) continue;
    if (token === FDT_END) break;
    if (root !== null && stack.length === 0) fail(`token ${token} after the root node closed`);
    switch (token) {
      case FDT_BEGIN_NODE: {
        const [name, nul] = cstring(at, structEnd, 'node name');
        at = nul + 1;
        align4();
        const node: FdtNode = { name, props: new Map(), children: [] };
        const parent = stack[stack.length - 1];
        if (parent === undefined) root = node;
        else parent.children.push(node);
        stack.push(node);
        break;
      }
      case FDT_END_NODE:
        if (stack.length === 0) fail('FDT_END_NODE without a node');
        stack.pop();
        break;
      case FDT_PROP: {
        const node = stack[stack.length - 1];
        if (node === undefined) fail('property outside any node');
        const len = u32();
        const nameoff = u32();
        if (nameoff >= sizeStrings) fail(`property name offset ${nameoff} outside the strings block`);
        const [name] = cstring(offStrings + nameoff, stringsEnd, 'property name');
        if (at + len > structEnd) fail(`property '${name}' runs past the structure block`);
        if (node.props.has(name)) fail(`duplicate property '${name}' in node '${node.name}'`);
        node.props.set(name, bytes.slice(at, at + len));
        at += len;
        align4();
        break;
      }
      default:
        fail(`unknown token 0x${token.toString(16)} at offset ${at - 4}`);
    }
  }
  if (root === null) fail('no root node');
  if (stack.length !== 0) fail('FDT_END inside an open node');
  return { root, version, lastCompVersion: lastComp, bootCpuId, reserve };
}

/** The tree of a DTB. */
export function parseFdt(bytes: Uint8Array): FdtNode {
  return readFdt(bytes).root;
}

/** The node at an absolute path such as '/soc/plic@c000000' (full names, with unit addresses). */
export function fdtFind(root: FdtNode, path: string): FdtNode | undefined {
  let node: FdtNode | undefined = root;
  for (const part of path.split('/').filter((p) => p !== '')) {
    node = node.children.find((c: FdtNode) => c.name === part);
    if (node === undefined) return undefined;
  }
  return node;
}

/** A property value as big-endian u32 cells (its length must be a multiple of 4). */
export function fdtCells(value: Uint8Array): number[] {
  if (value.length % 4 !== 0) throw new Error(`fdt: ${value.length}-byte value is not a cell array`);
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(dv.getUint32(i));
  return out;
}

/** A property value as a <stringlist> (each string NUL-terminated). */
export function fdtStrings(value: Uint8Array): string[] {
  if (value.length === 0 || value[value.length - 1] !== 0) throw new Error('fdt: value is not a string list');
  return new TextDecoder().decode(value.subarray(0, value.length - 1)).split('\0');
}
