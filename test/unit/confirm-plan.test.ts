// The confirmation planner (issue 19 §2): confirmations go before new work, activations are admitted as their
// confirmations fit in the window, and none starts when even alone its confirmation could not be made in time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfirmPlanner } from '../../src/deploy/confirm-plan.js';

const tick = () => new Promise((r) => setImmediate(r));

test('a busy deployer (connections of 1 s, a 4 s window): new work waits while a confirmation is pending, and goes on once it is over', async () => {
  const planner = createConfirmPlanner(() => 1000);
  assert.deepEqual(await planner.admit(4000), {});
  let finish!: () => void;
  const confirming = planner.confirming(() => new Promise<void>((r) => (finish = r)));
  let started = false;
  const copy = planner.yieldTo().then(() => (started = true));
  await tick();
  assert.equal(started, false, 'a copy does not start while a confirmation is pending');
  finish();
  await confirming;
  await copy;
  assert.equal(started, true);
});

test('no measurement yet: every activation is admitted at once', async () => {
  const planner = createConfirmPlanner();
  const all = await Promise.all(Array.from({ length: 20 }, () => planner.admit(30_000)));
  assert.deepEqual(all, Array.from({ length: 20 }, () => ({})));
});

test('connections of 1.5 s and a 4 s window: one unconfirmed activation at a time', async () => {
  const planner = createConfirmPlanner(() => 1500);
  assert.deepEqual(await planner.admit(4000), {});
  let second = false;
  const next = planner.admit(4000).then((r) => {
    second = true;
    return r;
  });
  await tick();
  assert.equal(second, false, 'the second waits: two confirmations of 1.5 s do not fit in half of 4 s');
  planner.release();
  assert.deepEqual(await next, {});
});

test('fast connections: as many as fit (half a 30 s window / 0.1 s)', async () => {
  const planner = createConfirmPlanner(() => 100);
  for (let i = 0; i < 150; i++) assert.deepEqual(await planner.admit(30_000), {});
  let more = false;
  void planner.admit(30_000).then(() => (more = true));
  await tick();
  assert.equal(more, false, 'the 151st waits for one to be over');
  planner.release();
  await tick();
  assert.equal(more, true);
});

test('a confirmation measured slower than half the window: the next activation is refused, typed, nothing changed', async () => {
  const planner = createConfirmPlanner(() => 200);
  assert.deepEqual(await planner.admit(3000), {});
  planner.observe(5000); // measured confirmations replace the probes' best: 5 s > 1.5 s
  planner.release();
  const r = await planner.admit(3000);
  assert.equal(r.overloaded, 'deployer-overloaded: not activated, so that its watchdog cannot roll it back: new SSH connections from this deployer take 5.0s now, more than half of the 3s confirmation window (raise --confirm-timeout, lower --parallel, or deploy from a less busy machine); nothing was changed');
});

test('no pressure (connections of 0.2 s, a 30 s window): copies go on while confirmations are pending', async () => {
  const planner = createConfirmPlanner(() => 200);
  assert.deepEqual(await planner.admit(30_000), {});
  let finish!: () => void;
  const confirming = planner.confirming(() => new Promise<void>((r) => (finish = r)));
  await planner.yieldTo();
  finish();
  await confirming;
});

test('a busy deployer: activations wait for pending confirmations before they are admitted', async () => {
  const planner = createConfirmPlanner(() => 500);
  assert.deepEqual(await planner.admit(4000), {}); // room for 4 (2 s / 0.5 s), and 0.5 s > a tenth of 4 s
  let finish!: () => void;
  const confirming = planner.confirming(() => new Promise<void>((r) => (finish = r)));
  let admitted = false;
  const next = planner.admit(30_000).then(() => (admitted = true));
  await tick();
  assert.equal(admitted, false);
  finish();
  await confirming;
  await next;
  assert.equal(admitted, true);
});
