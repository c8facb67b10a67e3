// Tests of the credit scheduler against a simulated clock: a small discrete-event loop plays the pCPU
// workers (pick → run the slice → charge) and checks weights, caps, idleness, steal time and invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CreditScheduler, type VmSchedParams } from './scheduler.js';

const MS = 1_000_000;
const S = 1_000_000_000;

interface SimEvent { at: number; vcpu: string; runnable: boolean }
/** Imperfections of a real pCPU loop: a slice runs longer than granted (the worker checks the clock only
 *  between instruction batches), and the pCPU sits unused between a charge and the next pick (messages). */
interface RealLoop { overrun(vcpu: string, grantedNs: number): number; gapNs: number }
interface Run { vcpu: string; pcpu: number; start: number; end: number }

/**
 * Plays `pcpus` workers from `from` to `until`: each free pCPU picks and runs its slice in full unless the
 * vCPU blocks (an event sets it not runnable), and is charged when it ends. Idle pCPUs sleep until
 * nextEventNs or the next event. Asserts that no vCPU is ever on two pCPUs and that `check` holds after
 * every round of picks. Returns the runs, in the order they ended.
 */
function simulate(
  s: CreditScheduler, from: number, until: number, events: SimEvent[] = [],
  check?: (now: number, running: (string | null)[]) => void,
  real?: RealLoop,
): Run[] {
  const runs: Run[] = [];
  const cur: ({ vcpu: string; start: number; end: number } | null)[] = new Array(s.pcpus).fill(null);
  const evs = [...events].sort((a, b) => a.at - b.at);
  let ei = 0;
  const finish = (p: number, t: number) => {
    const r = cur[p]!;
    s.charge(r.vcpu, Math.max(0, t - r.start), t);
    runs.push({ vcpu: r.vcpu, pcpu: p, start: r.start, end: t });
    cur[p] = null;
  };
  let now = from;
  for (;;) {
    for (let p = 0; p < s.pcpus; p++) if (cur[p] && cur[p]!.end <= now) finish(p, cur[p]!.end);
    while (ei < evs.length && evs[ei].at <= now) {
      const e = evs[ei++];
      const p = cur.findIndex((r) => r?.vcpu === e.vcpu);
      if (!e.runnable && p >= 0) finish(p, now); // WFI ends the slice early
      s.setRunnable(e.vcpu, e.runnable, now);
    }
    if (now >= until) break;
    let idle = false;
    for (let p = 0; p < s.pcpus; p++) {
      if (cur[p]) continue;
      const r = s.pick(p, now);
      if (!r) { idle = true; continue; }
      assert.ok(r.sliceNs > 0, 'slices are positive');
      assert.ok(!cur.some((c) => c?.vcpu === r.vcpu), `${r.vcpu} picked on two pCPUs at ${now}`);
      const start = real ? now + real.gapNs : now;
      cur[p] = { vcpu: r.vcpu, start, end: start + r.sliceNs + (real ? real.overrun(r.vcpu, r.sliceNs) : 0) };
    }
    assert.deepEqual(s.running(), cur.map((c) => c?.vcpu ?? null));
    check?.(now, s.running());
    let next = until;
    for (const c of cur) if (c) next = Math.min(next, c.end);
    if (ei < evs.length) next = Math.min(next, evs[ei].at);
    if (idle) {
      const wake = s.nextEventNs(now);
      assert.ok(wake > now, 'an idle pCPU is not told to pick again at once');
      next = Math.min(next, wake);
    }
    now = next;
  }
  for (let p = 0; p < s.pcpus; p++) if (cur[p]) finish(p, until);
  return runs;
}

/** Adds VMs with one busy (always runnable) vCPU each; returns their vCPU keys. */
function busyVms(s: CreditScheduler, params: VmSchedParams[], now = 0): string[] {
  return params.map((p, i) => {
    s.addVm(`vm${i}`, p);
    const k = s.addVcpu(`vm${i}`, 0);
    s.setRunnable(k, true, now);
    return k;
  });
}

function cpuIn(runs: Run[], vcpu: string | ((k: string) => boolean), from: number, to: number): number {
  let t = 0;
  for (const r of runs) {
    if (typeof vcpu === 'string' ? r.vcpu !== vcpu : !vcpu(r.vcpu)) continue;
    t += Math.max(0, Math.min(r.end, to) - Math.max(r.start, from));
  }
  return t;
}

function assertNear(actual: number, expected: number, relTol: number, what: string): void {
  const msg = `${what}: ${actual.toFixed(4)} not within ${relTol * 100}% of ${expected.toFixed(4)}`;
  assert.ok(Math.abs(actual - expected) <= relTol * expected, msg);
}

test('weights 100:200:400 on one pCPU share 1/7:2/7:4/7 over 45 s', (t) => {
  const s = new CreditScheduler({ pcpus: 1 });
  const keys = busyVms(s, [{ weight: 100, cap: 0 }, { weight: 200, cap: 0 }, { weight: 400, cap: 0 }]);
  simulate(s, 0, 45 * S);
  const shares = keys.map((k) => s.stats(k).cpuTimeNs / (45 * S));
  [1 / 7, 2 / 7, 4 / 7].forEach((e, i) => assertNear(shares[i], e, 0.02, `vm${i} share`));
  assert.ok(Math.abs(shares.reduce((a, b) => a + b) - 1) < 1e-9, 'the pCPU never idles');
  t.diagnostic(`shares ${shares.map((x) => x.toFixed(5)).join(' : ')} (ideal 0.14286 : 0.28571 : 0.57143)`);
  // Over every 1 s window the shares hold too, not just on average: within two slices of ideal.
  const runs = simulate(s, 45 * S, 50 * S);
  for (let w = 45; w < 50; w++) {
    keys.forEach((k, i) => {
      const got = cpuIn(runs, k, w * S, (w + 1) * S);
      assert.ok(Math.abs(got - ((1 << i) / 7) * S) <= 20 * MS, `window ${w} vm${i}: ${got / MS} ms`);
    });
  }
});

test('weights hold in a real loop: slices overrun their grant and the pCPU idles between slices', (t) => {
  // What the daemon sees: a worker checks the clock every few ms of guest code, so a 10 ms slice ends
  // anywhere in 10-14 ms; one slice in twenty stalls for up to 60 ms more (the host's garbage collector, a
  // JIT compile, another process on the core); and each hand-over costs ~1.5 ms of messages in which
  // nobody is charged.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const s = new CreditScheduler({ pcpus: 1 });
  const keys = busyVms(s, [{ weight: 100, cap: 0 }, { weight: 200, cap: 0 }, { weight: 400, cap: 0 }]);
  simulate(s, 0, 45 * S, [], undefined, {
    overrun: () => rnd() * 4 * MS + (rnd() < 0.05 ? rnd() * 60 * MS : 0), gapNs: 1.5 * MS,
  });
  const cpu = keys.map((k) => s.stats(k).cpuTimeNs);
  const total = cpu.reduce((a, b) => a + b);
  const shares = cpu.map((c) => c / total);
  t.diagnostic(`shares ${shares.map((x) => x.toFixed(5)).join(' : ')} (ideal 0.14286 : 0.28571 : 0.57143)`);
  [1 / 7, 2 / 7, 4 / 7].forEach((e, i) => assertNear(shares[i], e, 0.03, `vm${i} share`));
});

test('a 25% cap holds on an otherwise idle host; 150% for a two-vCPU VM on 4 pCPUs', (t) => {
  const s = new CreditScheduler({ pcpus: 1 });
  const [k] = busyVms(s, [{ weight: 256, cap: 25 }]);
  simulate(s, 0, 10 * S);
  t.diagnostic(`cap 25: ${(s.stats(k).cpuTimeNs / (10 * S)).toFixed(5)}`);
  assertNear(s.stats(k).cpuTimeNs / (10 * S), 0.25, 0.01, 'capped share');
  // Parked time is steal: the guest wanted the CPU and did not get it.
  assertNear(s.stats(k, 10 * S).stealTimeNs / (10 * S), 0.75, 0.01, 'steal while parked');

  const s4 = new CreditScheduler({ pcpus: 4 });
  s4.addVm('big', { weight: 256, cap: 150 });
  const ks = [0, 1].map((i) => s4.addVcpu('big', i));
  for (const x of ks) s4.setRunnable(x, true, 0);
  simulate(s4, 0, 10 * S);
  assertNear(s4.vmStats('big').cpuTimeNs / (10 * S), 1.5, 0.01, 'two-vCPU capped VM');
});

test('a capped VM under contention gets its cap and the rest goes to the others', () => {
  const s = new CreditScheduler({ pcpus: 1 });
  const [a, b] = busyVms(s, [{ weight: 256, cap: 20 }, { weight: 256, cap: 0 }]);
  simulate(s, 0, 10 * S);
  assertNear(s.stats(a).cpuTimeNs / (10 * S), 0.2, 0.01, 'capped');
  assertNear(s.stats(b).cpuTimeNs / (10 * S), 0.8, 0.01, 'uncapped absorbs the rest');
});

test('2 pCPUs with 3 busy VMs: equal weights give 2/3 each; 100:200:400 gives 1/3:2/3:1', (tc) => {
  const s = new CreditScheduler({ pcpus: 2 });
  const keys = busyVms(s, [{ weight: 256, cap: 0 }, { weight: 256, cap: 0 }, { weight: 256, cap: 0 }]);
  simulate(s, 0, 30 * S);
  tc.diagnostic(`equal: ${keys.map((k) => (s.stats(k).cpuTimeNs / (30 * S)).toFixed(4)).join(' ')}`);
  keys.forEach((k, i) => assertNear(s.stats(k).cpuTimeNs / (30 * S), 2 / 3, 0.02, `vm${i}`));

  // One vCPU cannot use more than one pCPU: its unusable credit flows to the others by weight.
  const t = new CreditScheduler({ pcpus: 2 });
  const ks = busyVms(t, [{ weight: 100, cap: 0 }, { weight: 200, cap: 0 }, { weight: 400, cap: 0 }]);
  simulate(t, 0, 30 * S);
  tc.diagnostic(`100:200:400: ${ks.map((k) => (t.stats(k).cpuTimeNs / (30 * S)).toFixed(4)).join(' ')}`);
  [1 / 3, 2 / 3, 1].forEach((e, i) => assertNear(t.stats(ks[i]).cpuTimeNs / (30 * S), e, 0.02, `weighted vm${i}`));
});

test('idle vCPUs get nothing and the busy ones absorb their share', () => {
  const s = new CreditScheduler({ pcpus: 1 });
  s.addVm('a', { weight: 256, cap: 0 });
  s.addVm('b', { weight: 256, cap: 0 });
  s.addVm('idle', { weight: 1000, cap: 0 });
  const a0 = s.addVcpu('a', 0);
  const a1 = s.addVcpu('a', 1); // in WFI throughout
  const b0 = s.addVcpu('b', 0);
  const i0 = s.addVcpu('idle', 0);
  s.setRunnable(a0, true, 0);
  s.setRunnable(b0, true, 0);
  simulate(s, 0, 10 * S);
  assert.equal(s.stats(a1).cpuTimeNs, 0);
  assert.equal(s.stats(i0).cpuTimeNs, 0);
  assert.equal(s.stats(i0).stealTimeNs, 0, 'WFI is not steal');
  // a's weight goes entirely to its one runnable vCPU, and the idle VM's weight to nobody.
  assertNear(s.stats(a0).cpuTimeNs / (10 * S), 0.5, 0.01, 'a0');
  assertNear(s.stats(b0).cpuTimeNs / (10 * S), 0.5, 0.01, 'b0');
});

test('a VM waking after a long sleep does not starve the others', () => {
  const s = new CreditScheduler({ pcpus: 1 });
  const [a, b, c] = busyVms(s, [{ weight: 256, cap: 0 }, { weight: 256, cap: 0 }, { weight: 256, cap: 0 }]);
  s.setRunnable(c, false, 0);
  const runs = simulate(s, 0, 20 * S, [{ at: 10 * S + 3 * MS, vcpu: c, runnable: true }]);
  assert.equal(cpuIn(runs, c, 0, 10 * S), 0);
  // From the wake-up on, the three share evenly: c did not bank ten seconds of credit.
  for (const k of [a, b, c]) assertNear(cpuIn(runs, k, 10 * S, 20 * S) / (10 * S), 1 / 3, 0.02, k);
  // Nobody waits long: a and b each run at least every few slices right after c wakes.
  for (const k of [a, b]) {
    const mine = runs.filter((r) => r.vcpu === k && r.end > 10 * S).sort((x, y) => x.start - y.start);
    let last = 10 * S;
    for (const r of mine.filter((x) => x.start < 11 * S)) {
      assert.ok(r.start - last <= 50 * MS, `${k} waited ${(r.start - last) / MS} ms after the wake-up`);
      last = r.end;
    }
  }
  // c's lead on waking is bounded by one slice plus one period's share.
  assert.ok(cpuIn(runs, c, 10 * S, 10 * S + 60 * MS) <= 10 * MS + 40 * MS);
});

test('setParams takes effect live: weight and cap', () => {
  const s = new CreditScheduler({ pcpus: 1 });
  const [a, b] = busyVms(s, [{ weight: 100, cap: 0 }, { weight: 100, cap: 0 }]);
  let runs = simulate(s, 0, 5 * S);
  assertNear(cpuIn(runs, a, 0, 5 * S) / (5 * S), 0.5, 0.01, 'before');
  s.setParams('vm0', { weight: 300, cap: 0 });
  runs = simulate(s, 5 * S, 15 * S);
  assertNear(cpuIn(runs, a, 6 * S, 15 * S) / (9 * S), 0.75, 0.02, 'after weight change');
  assertNear(cpuIn(runs, b, 6 * S, 15 * S) / (9 * S), 0.25, 0.02, 'other after weight change');
  s.setParams('vm1', { weight: 100, cap: 10 });
  s.setParams('vm0', { weight: 100, cap: 0 });
  runs = simulate(s, 15 * S, 20 * S);
  assertNear(cpuIn(runs, b, 15 * S, 20 * S) / (5 * S), 0.1, 0.01, 'cap set live');
  s.setParams('vm1', { weight: 100, cap: 0 });
  runs = simulate(s, 20 * S, 30 * S);
  assertNear(cpuIn(runs, b, 21 * S, 30 * S) / (9 * S), 0.5, 0.02, 'cap lifted live');
  assert.throws(() => s.setParams('vm0', { weight: 0, cap: 0 }), /weight must be an integer 1-65535/);
  assert.throws(() => s.setParams('nope', { weight: 1, cap: 0 }), /no VM nope/);
});

test('removeVm: its running vCPU frees the pCPU, a late charge is ignored, the rest share the CPU', () => {
  const s = new CreditScheduler({ pcpus: 1 });
  const [a, b, c] = busyVms(s, [{ weight: 256, cap: 0 }, { weight: 256, cap: 0 }, { weight: 256, cap: 0 }]);
  simulate(s, 0, 3 * S);
  const p = s.pick(0, 3 * S)!;
  const victim = p.vcpu === a ? 'vm0' : p.vcpu === b ? 'vm1' : 'vm2';
  s.removeVm(victim);
  assert.deepEqual(s.running(), [null]);
  s.charge(p.vcpu, 5 * MS, 3 * S + 5 * MS); // the worker finishing its slice after the removal
  assert.throws(() => s.vmStats(victim), /no VM/);
  const rest = [a, b, c].filter((k) => k !== p.vcpu);
  const runs = simulate(s, 3 * S + 5 * MS, 13 * S);
  assert.ok(!runs.some((r) => r.vcpu === p.vcpu));
  for (const k of rest) assertNear(cpuIn(runs, k, 4 * S, 13 * S) / (9 * S), 0.5, 0.01, k);
  s.addVm(victim, { weight: 256, cap: 0 }); // the id can be reused
  assert.equal(s.addVcpu(victim, 0), p.vcpu);
});

test('a vCPU is never picked on two pCPUs at once, and pick refuses a busy pCPU', () => {
  const s = new CreditScheduler({ pcpus: 4 });
  const keys = busyVms(s, [{ weight: 256, cap: 0 }, { weight: 512, cap: 0 }]);
  let maxBusy = 0;
  simulate(s, 0, 2 * S, [], (_now, running) => {
    maxBusy = Math.max(maxBusy, running.filter(Boolean).length);
  });
  assert.equal(maxBusy, 2);
  for (const k of keys) assertNear(s.stats(k).cpuTimeNs / (2 * S), 1, 1e-9, k);
  const first = s.pick(0, 2 * S)!;
  const second = s.pick(1, 2 * S)!;
  assert.notEqual(first.vcpu, second.vcpu);
  assert.equal(s.pick(2, 2 * S), null);
  assert.throws(() => s.pick(0, 2 * S), /still running/);
  assert.equal(s.nextEventNs(2 * S), Infinity, 'nothing left to wait for');
});

test('steal time accumulates while runnable and waiting, and is ~0 without contention', () => {
  const s = new CreditScheduler({ pcpus: 1 });
  const [a, b] = busyVms(s, [{ weight: 256, cap: 0 }, { weight: 256, cap: 0 }]);
  simulate(s, 0, 10 * S);
  for (const k of [a, b]) {
    const st = s.stats(k, 10 * S);
    assertNear(st.stealTimeNs / (10 * S), 0.5, 0.01, `${k} steal`);
    assertNear(st.runnableNs, 10 * S, 1e-9, `${k} runnable`);
    assert.ok(Math.abs(st.cpuTimeNs + st.stealTimeNs - st.runnableNs) < 1);
  }
  const t = new CreditScheduler({ pcpus: 2 });
  const ks = busyVms(t, [{ weight: 256, cap: 0 }, { weight: 1, cap: 0 }]);
  simulate(t, 0, 10 * S);
  for (const k of ks) assert.equal(t.stats(k, 10 * S).stealTimeNs, 0, `${k} has a pCPU to itself`);
  assert.deepEqual(t.vmStats('vm1', 10 * S), { cpuTimeNs: 10 * S, stealTimeNs: 0, runnableNs: 10 * S });
});

test('an idle pCPU sleeps until the capped VM is unparked at the next period', () => {
  const s = new CreditScheduler({ pcpus: 1, sliceNs: 10 * MS, periodNs: 30 * MS });
  const [k] = busyVms(s, [{ weight: 256, cap: 10 }]);
  const p = s.pick(0, 0)!;
  assert.deepEqual(p, { vcpu: k, sliceNs: 3 * MS });
  s.charge(k, 3 * MS, 3 * MS);
  assert.equal(s.pick(0, 3 * MS), null);
  assert.equal(s.nextEventNs(3 * MS), 30 * MS);
  assert.equal(s.stats(k).priority, 'OVER');
  assert.deepEqual(s.pick(0, 30 * MS), { vcpu: k, sliceNs: 3 * MS });
});

interface Spec {
  pcpus: number;
  vms: { weight: number; cap: number; vcpus: number }[];
  toggles: { at: number; vm: number; vcpu: number; runnable: boolean }[];
}

test('property: no double picks, CPU ≤ pcpus × elapsed, caps hold per period, work-conserving', () => {
  const periodNs = 30 * MS;
  const sliceNs = 10 * MS;
  const elapsed = 3 * S;
  const vmArb = fc.record({
    weight: fc.integer({ min: 1, max: 65535 }),
    cap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 250 })),
    vcpus: fc.integer({ min: 1, max: 3 }),
  });
  const specArb: fc.Arbitrary<Spec> = fc.record({
    pcpus: fc.integer({ min: 1, max: 4 }),
    vms: fc.array(vmArb, { minLength: 1, maxLength: 4 }),
    toggles: fc.array(fc.record({
      at: fc.integer({ min: 0, max: elapsed - 1 }),
      vm: fc.nat(3), vcpu: fc.nat(2), runnable: fc.boolean(),
    }), { maxLength: 40 }),
  });
  fc.assert(fc.property(specArb, (spec) => {
    const s = new CreditScheduler({ pcpus: spec.pcpus, sliceNs, periodNs });
    const keys: string[][] = spec.vms.map((vm, i) => {
      s.addVm(`vm${i}`, { weight: vm.weight, cap: vm.cap });
      return Array.from({ length: vm.vcpus }, (_, j) => s.addVcpu(`vm${i}`, j));
    });
    const events: SimEvent[] = keys.flat().map((k) => ({ at: 0, vcpu: k, runnable: true }));
    for (const t of spec.toggles) {
      const k = keys[t.vm % keys.length];
      events.push({ at: t.at, vcpu: k[t.vcpu % k.length], runnable: t.runnable });
    }
    const runs = simulate(s, 0, elapsed, events, (_now, running) => {
      // Work conservation: a free pCPU means every waiting runnable vCPU is parked by its cap.
      if (!running.includes(null)) return;
      keys.forEach((ks, i) => {
        for (const k of ks) {
          const st = s.stats(k);
          if (st.runnable && !st.running) assert.ok(spec.vms[i].cap > 0, `${k} waits while a pCPU idles`);
        }
      });
    });
    const total = runs.reduce((t, r) => t + r.end - r.start, 0);
    assert.ok(total <= spec.pcpus * elapsed + 1e-3);
    spec.vms.forEach((vm, i) => {
      const st = s.vmStats(`vm${i}`, elapsed);
      assert.ok(Math.abs(st.cpuTimeNs + st.stealTimeNs - st.runnableNs) < 1, 'runnable = running + steal');
      if (vm.cap === 0) return;
      const mine = (k: string) => k.startsWith(`vm${i}/`);
      for (let p = 0; p < elapsed; p += periodNs) {
        const used = cpuIn(runs, mine, p, p + periodNs);
        assert.ok(used <= (vm.cap / 100) * periodNs + sliceNs, `vm${i} used ${used} in period at ${p}`);
        assert.ok(used <= (vm.cap / 100) * periodNs + 1e-3, 'slices are trimmed to the cap exactly');
      }
    });
  }), { numRuns: 150 });
});
