// A minimal WebAssembly binary writer: the module shape the translator needs (imported memory, functions and table,
// one exported function) and the instructions it emits. WebAssembly Core Specification 1.0, chapter 5
// (binary format), plus the sign-extension operators that Node 20 and current browsers run.

/** Value types (5.3.1). */
export const enum T {
  I32 = 0x7f,
  I64 = 0x7e,
  VOID = 0x40,
}

/** Opcodes used by the translator (5.4). */
export const enum W {
  UNREACHABLE = 0x00, NOP = 0x01, BLOCK = 0x02, LOOP = 0x03, IF = 0x04, ELSE = 0x05, END = 0x0b,
  BR = 0x0c, BR_IF = 0x0d, BR_TABLE = 0x0e, RETURN = 0x0f, CALL = 0x10, CALL_INDIRECT = 0x11,
  DROP = 0x1a, SELECT = 0x1b,
  LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22,
  I32_LOAD = 0x28, I64_LOAD = 0x29,
  I32_LOAD8_S = 0x2c, I32_LOAD8_U = 0x2d, I32_LOAD16_S = 0x2e, I32_LOAD16_U = 0x2f,
  I64_LOAD8_S = 0x30, I64_LOAD8_U = 0x31, I64_LOAD16_S = 0x32, I64_LOAD16_U = 0x33,
  I64_LOAD32_S = 0x34, I64_LOAD32_U = 0x35,
  I32_STORE = 0x36, I64_STORE = 0x37, I32_STORE8 = 0x3a, I32_STORE16 = 0x3b,
  I64_STORE8 = 0x3c, I64_STORE16 = 0x3d, I64_STORE32 = 0x3e,
  I32_CONST = 0x41, I64_CONST = 0x42,
  I32_EQZ = 0x45, I32_EQ = 0x46, I32_NE = 0x47, I32_LT_S = 0x48, I32_LT_U = 0x49, I32_GT_S = 0x4a,
  I32_GT_U = 0x4b, I32_LE_S = 0x4c, I32_LE_U = 0x4d, I32_GE_S = 0x4e, I32_GE_U = 0x4f,
  I64_EQZ = 0x50, I64_EQ = 0x51, I64_NE = 0x52, I64_LT_S = 0x53, I64_LT_U = 0x54, I64_GT_S = 0x55,
  I64_GT_U = 0x56, I64_LE_S = 0x57, I64_LE_U = 0x58, I64_GE_S = 0x59, I64_GE_U = 0x5a,
  I32_CLZ = 0x67, I32_CTZ = 0x68, I32_POPCNT = 0x69, I32_ADD = 0x6a, I32_SUB = 0x6b, I32_MUL = 0x6c,
  I32_DIV_S = 0x6d, I32_DIV_U = 0x6e, I32_REM_S = 0x6f, I32_REM_U = 0x70, I32_AND = 0x71, I32_OR = 0x72,
  I32_XOR = 0x73, I32_SHL = 0x74, I32_SHR_S = 0x75, I32_SHR_U = 0x76, I32_ROTL = 0x77, I32_ROTR = 0x78,
  I64_CLZ = 0x79, I64_CTZ = 0x7a, I64_POPCNT = 0x7b, I64_ADD = 0x7c, I64_SUB = 0x7d, I64_MUL = 0x7e,
  I64_DIV_S = 0x7f, I64_DIV_U = 0x80, I64_REM_S = 0x81, I64_REM_U = 0x82, I64_AND = 0x83, I64_OR = 0x84,
  I64_XOR = 0x85, I64_SHL = 0x86, I64_SHR_S = 0x87, I64_SHR_U = 0x88, I64_ROTL = 0x89, I64_ROTR = 0x8a,
  I32_WRAP_I64 = 0xa7, I64_EXTEND_I32_S = 0xac, I64_EXTEND_I32_U = 0xad,
  // sign-extension operators
  I32_EXTEND8_S = 0xc0, I32_EXTEND16_S = 0xc1,
  I64_EXTEND8_S = 0xc2, I64_EXTEND16_S = 0xc3, I64_EXTEND32_S = 0xc4,
}

/** Atomic memory instructions (threads proposal, prefix 0xfe): the second byte of each. */
export const enum A {
  I32_LOAD = 0x10, I64_LOAD = 0x11,
  I32_ADD = 0x1e, I64_ADD = 0x1f, I32_AND = 0x2c, I64_AND = 0x2d, I32_OR = 0x33, I64_OR = 0x34,
  I32_XOR = 0x3a, I64_XOR = 0x3b, I32_XCHG = 0x41, I64_XCHG = 0x42, I32_CMPXCHG = 0x48, I64_CMPXCHG = 0x49,
}

/** A growable byte buffer with the LEB128 encodings of 5.2.2. */
export class Bytes {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(4096);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(b: ArrayLike<number>): this {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  u32(v: number): this {
    this.room(5);
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.length++] = b;
    } while (v !== 0);
    return this;
  }

  s32(v: number): this {
    this.room(5);
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return this;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  s64(v: bigint): this {
    this.room(10);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return this;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  /** A signed 64-bit constant given as (lo, hi) int32 words, without a BigInt for the common small values. */
  s64Words(lo: number, hi: number): this {
    if (hi === lo >> 31) return this.s32(lo);
    return this.s64((BigInt(hi) << 32n) | BigInt(lo >>> 0));
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

/** A function body under construction: locals and code, with helpers for the common instruction forms. */
export class Code extends Bytes {
  op(o: W): this {
    return this.byte(o);
  }
  i32(v: number): this {
    return this.byte(W.I32_CONST).s32(v);
  }
  i64(lo: number, hi: number = lo >> 31): this {
    return this.byte(W.I64_CONST).s64Words(lo, hi);
  }
  get(l: number): this {
    return this.byte(W.LOCAL_GET).u32(l);
  }
  set(l: number): this {
    return this.byte(W.LOCAL_SET).u32(l);
  }
  tee(l: number): this {
    return this.byte(W.LOCAL_TEE).u32(l);
  }
  /** A load or store with its memarg: log2 of the alignment hint and a constant offset. */
  mem(o: W, align: number, offset: number): this {
    return this.byte(o).u32(align).u32(offset >>> 0);
  }
  /** An atomic access; its alignment must be the natural one (`log2size`). */
  atomic(o: A, log2size: number, offset: number): this {
    return this.byte(0xfe).u32(o).u32(log2size).u32(offset >>> 0);
  }
  /** memory.fill (bulk memory): [address, byte, length] on the stack. */
  memoryFill(): this {
    return this.byte(0xfc).u32(11).byte(0);
  }
  call(f: number): this {
    return this.byte(W.CALL).u32(f);
  }
  /** call_indirect through table 0 with function type `type` (the index is on the stack). */
  callIndirect(type: number): this {
    return this.byte(W.CALL_INDIRECT).u32(type).u32(0);
  }
  br(depth: number): this {
    return this.byte(W.BR).u32(depth);
  }
  brIf(depth: number): this {
    return this.byte(W.BR_IF).u32(depth);
  }
  block(t: T = T.VOID): this {
    return this.byte(W.BLOCK).byte(t);
  }
  loop(t: T = T.VOID): this {
    return this.byte(W.LOOP).byte(t);
  }
  if(t: T = T.VOID): this {
    return this.byte(W.IF).byte(t);
  }
  else(): this {
    return this.byte(W.ELSE);
  }
  end(): this {
    return this.byte(W.END);
  }
}

export interface FuncType {
  params: T[];
  results: T[];
}

export interface ModuleSpec {
  /** Imported functions ("env", name) in index order, before the module's own function. */
  imports: { name: string; type: FuncType }[];
  /** The imported memory ("env", "memory"): page counts and whether it is shared. */
  memory: { pages: number; shared: boolean };
  /** Imports a table of functions ("env", "table"), as table 0. */
  table?: boolean;
  /** More function types, for call_indirect: type index imports.length + 1 + i. */
  types?: FuncType[];
  /** The function the module exports as "run" (function index imports.length). */
  func: Func;
  /** Functions only the module calls: index imports.length + 1 + i (their types follow `types`). */
  helpers?: Func[];
}

export interface Func {
  type: FuncType;
  locals: { count: number; type: T }[];
  body: Code;
}

function section(out: Bytes, id: number, content: Bytes): void {
  out.byte(id).u32(content.length).bytes(content.finish());
}

function funcType(b: Bytes, t: FuncType): void {
  b.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
}

/** Encodes a module (5.5): types, imports, one function, its export and its code. */
export function encodeModule(m: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = new Bytes();
  out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const extra = m.types ?? [];
  const helpers = m.helpers ?? [];
  const types = new Bytes().u32(m.imports.length + 1 + extra.length + helpers.length);
  for (const imp of m.imports) funcType(types, imp.type);
  funcType(types, m.func.type);
  for (const t of extra) funcType(types, t);
  for (const f of helpers) funcType(types, f.type);
  section(out, 1, types);
  const imports = new Bytes().u32(m.imports.length + 1 + (m.table ? 1 : 0));
  m.imports.forEach((imp, i) => imports.name('env').name(imp.name).byte(0x00).u32(i));
  // memory import: limits flag 1 = min and max, 3 = shared with min and max (threads proposal)
  imports.name('env').name('memory').byte(0x02).byte(m.memory.shared ? 3 : 1).u32(m.memory.pages).u32(m.memory.pages);
  // table import: funcref, minimum 0, no maximum
  if (m.table) imports.name('env').name('table').byte(0x01).byte(0x70).byte(0x00).u32(0);
  section(out, 2, imports);
  const funcs = new Bytes().u32(1 + helpers.length).u32(m.imports.length);
  helpers.forEach((_, i) => funcs.u32(m.imports.length + 1 + extra.length + i));
  section(out, 3, funcs);
  section(out, 7, new Bytes().u32(1).name('run').byte(0x00).u32(m.imports.length));
  const code = new Bytes().u32(1 + helpers.length);
  for (const f of [m.func, ...helpers]) {
    const body = new Bytes().u32(f.locals.length);
    for (const l of f.locals) body.u32(l.count).byte(l.type);
    body.bytes(f.body.finish()).byte(W.END);
    code.u32(body.length).bytes(body.finish());
  }
  section(out, 10, code);
  return out.finish();
}
