// Tests of the token-bucket rate limiter against a simulated clock: steady rate, bursts, the one-time burst,
// live updates, ops and bandwidth together, requests larger than the bucket, and a bound on what passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RateLimiter, TokenBucket } from './rate-limiter.js';

const MiB = 1 << 20;

/** A device that always has `bytes`-sized requests queued: sends while allowed, else sleeps waitMs
 *  (rounded up to whole ms like a real timer when `ceil`). Returns the bytes that went through. */
function drive(rl: RateLimiter, bytes: number, fromMs: number, toMs: number, ceil = false): number {
  let now = fromMs;
  let sent = 0;
  while (now < toMs) {
    if (rl.consume(bytes, now)) {
      sent += bytes;
      continue;
    }
    const w = rl.waitMs(bytes, now);
    assert.ok(w > 0 && Number.isFinite(w), `a refused request gets a finite wait, got ${w}`);
    now += ceil ? Math.ceil(w) : w;
  }
  return sent;
}

test('steady-state bandwidth is within 1% over a simulated 60 s, with exact and ms-rounded timers', (t) => {
  for (const ceil of [false, true]) {
    const rl = new RateLimiter({ bandwidth: { size: MiB, refillTimeMs: 100 } }, 0); // 10 MiB/s
    drive(rl, 4096, 0, 1000, ceil);
    const sent = drive(rl, 4096, 1000, 61_000, ceil);
    const rate = sent / 60 / MiB;
    t.diagnostic(`${ceil ? 'rounded' : 'exact'} timers: ${rate.toFixed(4)} MiB/s of 10`);
    assert.ok(Math.abs(rate - 10) <= 0.1, `rate ${rate} MiB/s`);
    assert.ok(rl.blocked > 0);
  }
});

test('steady-state ops rate is within 1% over 60 s', () => {
  const rl = new RateLimiter({ ops: { size: 100, refillTimeMs: 1000 } }, 0);
  drive(rl, 512, 0, 1000); // drain the initial full bucket: it is a burst, not the steady state
  const ops = drive(rl, 512, 1000, 61_000, true) / 512;
  assert.ok(Math.abs(ops / 60 - 100) <= 1, `${ops / 60} ops/s`);
});

test('a full bucket lets a burst of its size through at once, then throttles', () => {
  const rl = new RateLimiter({ bandwidth: { size: 64 * 1024, refillTimeMs: 1000 } }, 0);
  let n = 0;
  while (rl.consume(4096, 5000)) n++;
  assert.equal(n, 16);
  assert.equal(rl.blocked, 1);
  assert.equal(rl.waitMs(4096, 5000), 62.5); // 4 KiB at 64 KiB/s
  assert.equal(rl.consume(4096, 5062), false);
  assert.equal(rl.consume(4096, 5062.5), true);
  // Idle time refills only up to the size: no hoarding.
  let m = 0;
  while (rl.consume(4096, 100_000)) m++;
  assert.equal(m, 16);
});

test('the one-time burst is spent first and never refills', () => {
  const b = new TokenBucket({ size: 1000, refillTimeMs: 1000, oneTimeBurst: 5000 }, 0);
  assert.equal(b.available(0), 6000);
  assert.ok(b.consume(4500, 0));
  assert.equal(b.available(0), 1500, 'the regular budget is untouched while the burst lasts');
  assert.ok(b.consume(1200, 0));
  assert.equal(b.available(0), 300);
  assert.ok(!b.consume(400, 0), 'refused whole: nothing is taken');
  assert.equal(b.available(0), 300);
  assert.equal(b.available(10_000), 1000, 'only the regular budget refills');

  const rl = new RateLimiter({ bandwidth: { size: MiB, refillTimeMs: 1000, oneTimeBurst: 8 * MiB } }, 0);
  const sent = drive(rl, 64 * 1024, 0, 10_000);
  // Burst + full bucket + 10 s of refill, less the request due exactly at the end.
  assert.ok(sent >= 19 * MiB - 64 * 1024 && sent <= 19 * MiB, `${sent}`);
});

test('live update: the new rate applies from then on and the balance is not reset to full', (t) => {
  const rl = new RateLimiter({ bandwidth: { size: MiB, refillTimeMs: 1000 } }, 0);
  drive(rl, 8192, 0, 10_000);
  rl.update({ bandwidth: { size: 4 * MiB, refillTimeMs: 1000 } }, 10_000);
  assert.equal(rl.consume(2 * MiB, 10_000), false, 'the bucket did not become full by reconfiguring');
  const sent = drive(rl, 8192, 10_000, 40_000);
  const rate = sent / 30 / MiB;
  t.diagnostic(`after update: ${rate.toFixed(4)} MiB/s of 4`);
  assert.ok(Math.abs(rate - 4) <= 0.04, `${rate} MiB/s`);
  // Adding an ops limit and dropping the bandwidth limit live.
  rl.update({ ops: { size: 10, refillTimeMs: 1000 } }, 40_000);
  drive(rl, 10 * MiB, 40_000, 41_000);
  const ops = drive(rl, 10 * MiB, 41_000, 71_000) / (10 * MiB);
  assert.ok(Math.abs(ops / 30 - 10) <= 0.1, `${ops / 30} ops/s`);
  rl.update({}, 71_000);
  assert.equal(rl.waitMs(1e12, 71_000), 0, 'no buckets: unlimited');
  assert.ok(rl.consume(1e12, 71_000));
});

test('ops and bandwidth together: the tighter one governs, and a refusal takes from neither', () => {
  // 1000 ops/s and 1 MiB/s: small requests are ops-bound, large ones bandwidth-bound.
  const cfg = { ops: { size: 1000, refillTimeMs: 1000 }, bandwidth: { size: MiB, refillTimeMs: 1000 } };
  const small = new RateLimiter(cfg, 0);
  drive(small, 64, 0, 1000);
  const smallOps = drive(small, 64, 1000, 61_000) / 64;
  assert.ok(Math.abs(smallOps / 60 - 1000) <= 10, `${smallOps / 60} ops/s`);
  const large = new RateLimiter(cfg, 0);
  drive(large, 16 * 1024, 0, 1000);
  const bytes = drive(large, 16 * 1024, 1000, 61_000);
  assert.ok(Math.abs(bytes / 60 / MiB - 1) <= 0.01, `${bytes / 60 / MiB} MiB/s`);

  const rl = new RateLimiter({ ops: { size: 2, refillTimeMs: 1000 }, bandwidth: { size: 1000, refillTimeMs: 1000 } }, 0);
  assert.ok(rl.consume(100, 0));
  assert.equal(rl.consume(2000, 0), false); // bandwidth refuses: the op must not be spent
  assert.ok(rl.consume(100, 0), 'the second op is still there');
  assert.equal(rl.consume(1, 0), false);
  assert.equal(rl.blocked, 2);
  assert.equal(rl.waitMs(1, 0), 500);
});

test('a request larger than the bucket goes through when it is full, then the debt is paid by waiting', () => {
  const b = new TokenBucket({ size: 1000, refillTimeMs: 1000 }, 0);
  assert.equal(b.timeUntil(5000, 0), Infinity, 'that many tokens never exist at once');
  assert.equal(b.timeUntilAllowed(5000, 0), 0);
  assert.ok(b.consume(5000, 0));
  assert.equal(b.available(0), -4000);
  assert.equal(b.timeUntilAllowed(1, 0), 4001);
  assert.equal(b.timeUntilAllowed(5000, 0), 5000, 'the next huge one waits for a full bucket');
  assert.ok(!b.consume(5000, 4999));
  assert.ok(b.consume(5000, 5000));

  // A stream of huge requests never deadlocks and still keeps the rate.
  const rl = new RateLimiter({ bandwidth: { size: 64 * 1024, refillTimeMs: 100 } }, 0); // 640 KiB/s
  const sent = drive(rl, MiB, 0, 60_000, true);
  const rate = sent / 60 / 1024;
  assert.ok(Math.abs(rate - 640) <= 640 * 0.02, `${rate} KiB/s with 1 MiB requests`);
});

test('size 0 or refill time 0 means no limit; bad configurations are refused with a message', () => {
  const b = new TokenBucket({ size: 0, refillTimeMs: 1000 }, 0);
  assert.ok(b.consume(1e15, 0));
  assert.equal(b.timeUntil(1e15, 0), 0);
  assert.ok(new TokenBucket({ size: 10, refillTimeMs: 0 }, 0).consume(1e6, 0));
  assert.throws(() => new TokenBucket({ size: -1, refillTimeMs: 10 }, 0), /size and refillTimeMs must be/);
  assert.throws(() => new RateLimiter({ ops: { size: 1, refillTimeMs: 1, oneTimeBurst: -5 } }, 0), /oneTimeBurst/);
  // Going from unlimited to limited starts with a full bucket.
  b.update({ size: 100, refillTimeMs: 1000 }, 10);
  assert.equal(b.available(10), 100);
});

test('property: what passes never exceeds burst + size + rate × elapsed + one oversize request', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 5000 }), fc.nat(20_000),
    fc.array(fc.record({ dt: fc.nat(200), bytes: fc.integer({ min: 1, max: 30_000 }) }), { minLength: 1, maxLength: 300 }),
    (size, refillTimeMs, oneTimeBurst, reqs) => {
      const rl = new RateLimiter({ bandwidth: { size, refillTimeMs, oneTimeBurst } }, 0);
      let now = 0;
      let passed = 0;
      let biggest = 0;
      for (const r of reqs) {
        now += r.dt;
        const wait = rl.waitMs(r.bytes, now);
        const ok = rl.consume(r.bytes, now);
        assert.equal(ok, wait === 0, 'waitMs is 0 exactly when consume succeeds');
        if (ok) {
          passed += r.bytes;
          biggest = Math.max(biggest, r.bytes);
        } else {
          assert.ok(rl.consume(r.bytes, now + wait), 'it does succeed after waitMs');
          now += wait;
          passed += r.bytes;
          biggest = Math.max(biggest, r.bytes);
        }
        const bound = oneTimeBurst + size + (size * now) / refillTimeMs + Math.max(0, biggest - size);
        assert.ok(passed <= bound * (1 + 1e-9), `${passed} > ${bound}`);
      }
    },
  ), { numRuns: 300 });
});
