// The one function JavaScript calls to run translated code, and what lets control go from one translated page to
// the next without coming back to JavaScript (QEMU chains its translation blocks for the same reason; here a
// page's function returns to this loop, which looks its exit pc up and calls the next page's function).
//
//   enter(slot, entry, budget, pageLo, pageHi) -> status
//
// calls the function in table slot `slot` at halfword offset `entry` of the page at virtual address
// (pageLo, pageHi). When it returns normally, having retired something and with budget left, the exit pc is
// looked up in the hart's execute TLB: an entry that still maps the page, whose RAM page has a translation
// (X_SLOT, kept by jit.ts), is run next. Anything else returns to JavaScript, which finds the pc in the state
// block and the budget left in the scratch word. JavaScript always calls the same exported function, for which
// V8 makes one fast entry stub, instead of a generic one per translated page.
import { AREA, TLB_MASK } from '../cpu/area.js';
import { S } from '../cpu/state.js';
import { Code, T, W, encodeModule } from './wasm.js';

const P_SLOT = 0, P_ENTRY = 1, P_BUDGET = 2, P_LO = 3, P_HI = 4;
const L_ST = 5, L_LEFT = 6, L_PC = 7, L_X = 8;

/** The trampoline module for the hart whose area is at byte `area` of the VM's memory. */
export function encodeTrampoline(area: number, mem: { pages: number; shared: boolean }): Uint8Array<ArrayBuffer> {
  const I32 = T.I32;
  const c = new Code();
  const at = (o: number) => area + o;
  const load = (o: number) => c.i32(0).mem(W.I32_LOAD, 2, at(o));
  /** Loads the word at byte `o` + the TLB entry offset in L_X. */
  const entryWord = (o: number) => c.get(L_X).mem(W.I32_LOAD, 2, at(o));
  const leaveIf = () => { c.if().i32(0).op(W.RETURN).end(); };
  c.loop();
  // where the running page is, for a slow path's fault (jit.ts finds the pc from it and the instruction offset)
  c.i32(0).get(P_LO).mem(W.I32_STORE, 2, at(AREA.JIT_PAGE));
  c.i32(0).get(P_HI).mem(W.I32_STORE, 2, at(AREA.JIT_PAGE + 4));
  c.get(P_ENTRY).get(P_BUDGET).get(P_LO).get(P_HI).get(P_SLOT).callIndirect(1);
  c.tee(L_ST).if().get(L_ST).op(W.RETURN).end();
  // the budget is spent, or nothing ran (entered where no block starts, or at an instruction left to the
  // interpreter): JavaScript decides
  load(AREA.SCRATCH).tee(L_LEFT).i32(0).op(W.I32_LE_S);
  leaveIf();
  c.get(L_LEFT).get(P_BUDGET).op(W.I32_EQ);
  leaveIf();
  load(AREA.STATE + S.PC * 4).set(L_PC);
  c.get(L_PC).i32(10).op(W.I32_SHR_U).i32(TLB_MASK << 2).op(W.I32_AND).set(L_X);
  // the execute TLB maps the pc's page, and its RAM page's translation is known
  entryWord(AREA.X_TAG).get(L_PC).i32(-4096).op(W.I32_AND).op(W.I32_NE);
  leaveIf();
  entryWord(AREA.X_TAG_HI).i32(0).mem(W.I32_LOAD, 2, at(AREA.STATE + S.PC * 4 + 4)).op(W.I32_NE);
  leaveIf();
  entryWord(AREA.X_SLOT_OFF).get(L_X).mem(W.I32_LOAD, 2, at(AREA.X_OFF)).op(W.I32_NE);
  leaveIf();
  entryWord(AREA.X_SLOT).i32(1).op(W.I32_SUB).tee(P_SLOT).i32(0).op(W.I32_LT_S);
  leaveIf();
  // the code cache keeps pages whose translations run (jit.ts asks before it evicts one)
  c.get(P_SLOT).i32(1).mem(W.I32_STORE8, 0, at(AREA.JIT_USED));
  c.i32(0).i32(0).mem(W.I32_LOAD, 2, at(AREA.JIT_HOPS)).i32(1).op(W.I32_ADD).mem(W.I32_STORE, 2, at(AREA.JIT_HOPS));
  c.get(L_LEFT).set(P_BUDGET);
  c.get(L_PC).i32(0xfff).op(W.I32_AND).i32(1).op(W.I32_SHR_U).set(P_ENTRY);
  c.get(L_PC).i32(-4096).op(W.I32_AND).set(P_LO);
  c.i32(0).mem(W.I32_LOAD, 2, at(AREA.STATE + S.PC * 4 + 4)).set(P_HI);
  c.br(0);
  c.end();
  c.op(W.UNREACHABLE);
  return encodeModule({
    imports: [],
    memory: mem,
    table: true,
    types: [{ params: [I32, I32, I32, I32], results: [I32] }],
    func: { type: { params: [I32, I32, I32, I32, I32], results: [I32] }, locals: [{ count: 4, type: I32 }], body: c },
  });
}
