// The steering gates of an interactive run (src/deploy/steering.ts): a command counts only at the gate it is
// meant for, a pause is taken once, and Ctrl+C (the signal) releases every gate without deploying anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, getEventListeners } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ResolvedNode } from '../../src/config/types.js';
import { createLedger } from '../../src/deploy/ledger.js';
import type { DeployPolicy } from '../../src/deploy/policy.js';
import { rollWaves } from '../../src/deploy/rollout.js';
import type { NodeContext } from '../../src/deploy/stages.js';
import { createSteering } from '../../src/deploy/steering.js';
import { createEventStream, type EventBody, type FleetEvent } from '../../src/events.js';
import type { NodePlan } from '../../src/plan/types.js';
import { confirmOnTerminal } from '../../src/cli/confirm.js';
import type { RolloutOptions } from '../../src/rollout/options.js';
import { waitFor } from '../poll.js';

/** How a gate stands once everything queued so far has run: still waiting, or what it resolved to. */
async function stateOf(gate: Promise<boolean>): Promise<boolean | 'waiting'> {
  return Promise.race([gate, new Promise<'waiting'>((resolve) => setImmediate(() => resolve('waiting')))]);
}

void test('review: approve deploys, decline does not', async () => {
  const s = createSteering();
  const approved = s.review(new AbortController().signal);
  assert.equal(await stateOf(approved), 'waiting');
  s.send({ type: 'approve' });
  assert.equal(await stateOf(approved), true);

  const declined = s.review(new AbortController().signal);
  s.send({ type: 'decline' });
  assert.equal(await stateOf(declined), false);
});

void test('review: a command for another gate, or sent before the review waits, changes nothing', async () => {
  const s = createSteering();
  s.send({ type: 'approve' }); // nothing waits yet: not kept for later
  const gate = s.review(new AbortController().signal);
  s.send({ type: 'resume' });
  s.send({ type: 'abort' }); // Ctrl+C's handler's, not the steering's
  s.send({ type: 'quit' });
  assert.equal(await stateOf(gate), 'waiting');
  s.send({ type: 'approve' });
  assert.equal(await stateOf(gate), true);
});

void test('review: Ctrl+C (the signal) releases it with false, also when it came before', async () => {
  const s = createSteering();
  const c = new AbortController();
  const gate = s.review(c.signal);
  c.abort();
  assert.equal(await stateOf(gate), false);
  assert.equal(await s.review(c.signal), false, 'an aborted signal never waits');
  // The gate released by the signal is gone: an approve now waits for the next review.
  s.send({ type: 'approve' });
  const next = s.review(new AbortController().signal);
  assert.equal(await stateOf(next), 'waiting');
  s.send({ type: 'decline' });
  assert.equal(await stateOf(next), false);
});

void test('pause: asked while the rollout runs, taken once before the next wave; resume before then takes it back', () => {
  const s = createSteering();
  assert.equal(s.takePause(), false);
  s.send({ type: 'pause' });
  assert.equal(s.takePause(), true);
  assert.equal(s.takePause(), false, 'one p, one pause');
  s.send({ type: 'pause' });
  s.send({ type: 'resume' });
  assert.equal(s.takePause(), false);
});

void test('pause: pressed while a gate waits (the review, or already paused), it is not kept for the next wave', async () => {
  const s = createSteering();
  const review = s.review(new AbortController().signal);
  s.send({ type: 'pause' });
  s.send({ type: 'approve' });
  assert.equal(await stateOf(review), true);
  assert.equal(s.takePause(), false);
  const paused = s.resumed(new AbortController().signal);
  s.send({ type: 'pause' });
  s.send({ type: 'resume' });
  assert.equal(await stateOf(paused), true);
  assert.equal(s.takePause(), false);
});

void test('paused: resume goes on, decline stops there, approve does not resume, the signal stops it', async () => {
  const s = createSteering();
  const resumed = s.resumed(new AbortController().signal);
  s.send({ type: 'approve' });
  assert.equal(await stateOf(resumed), 'waiting');
  s.send({ type: 'resume' });
  assert.equal(await stateOf(resumed), true);

  const declined = s.resumed(new AbortController().signal);
  s.send({ type: 'decline' });
  assert.equal(await stateOf(declined), false);

  const c = new AbortController();
  const aborted = s.resumed(c.signal);
  c.abort();
  assert.equal(await stateOf(aborted), false);
});

void test('a settled gate leaves no listener on the run\'s signal (one gate per wave must not pile them up)', async () => {
  const s = createSteering();
  const c = new AbortController();
  for (let wave = 0; wave < 3; wave++) {
    const gate = s.resumed(c.signal);
    assert.equal(getEventListeners(c.signal, 'abort').length, 1);
    s.send({ type: 'resume' });
    await gate;
  }
  const review = s.review(c.signal);
  s.send({ type: 'decline' });
  await review;
  assert.equal(getEventListeners(c.signal, 'abort').length, 0);
});

/** Two one-node waves (a, then b) rolled with `rollout.pause` and the given gate; `deployed` fills as nodes deploy. */
function rollTwoWaves(pause: RolloutOptions['pause'], gate: Pick<DeployPolicy, 'waveGate'>, onEvent: (e: FleetEvent) => void = () => {}) {
  const events: EventBody[] = [];
  const deployed: string[] = [];
  const nodes = [{ name: 'a' }, { name: 'b' }] as ResolvedNode[];
  const waves = [{ nodes: ['a'], maxFailures: 0 }, { nodes: ['b'], maxFailures: 0 }];
  const emit = createEventStream('r', (e) => {
    const { v: _v, run: _run, seq: _seq, time: _time, ...body } = e;
    events.push(body as EventBody);
    onEvent(e);
  });
  const run = { signal: new AbortController().signal, stop: new AbortController(), emit };
  // A staged rollout: each wave's budget decides, not fail-fast.
  const ledger = createLedger({ emit, stop: run.stop, failFast: false });
  const policy = { goal: 'switch' as const, rollout: { staged: true, yes: false, skipHealthChecks: false, onFailure: 'rollback-wave', pause } as RolloutOptions, ...gate };
  emit({ type: 'plan', plan: { goal: 'switch', builds: [], nodes: [], waves } });
  const plans = new Map(nodes.map((n) => [n.name, { name: n.name, activate: true } as NodePlan]));
  const rollout = rollWaves({ run, policy, ledger }, waves, {
    contextOf: (name) => ({ plan: plans.get(name) }) as NodeContext,
    deploy: async (np) => {
      deployed.push(np.name);
      return { kind: 'done', outcome: 'activated' };
    },
    everyBuild: async () => {},
    prepared: () => undefined,
  });
  return { events, deployed, ledger, rollout };
}

void test('a pause asked for (p) also holds a rollout with a delay between waves (rollout.pause: 1ms), until resume', async () => {
  const steering = createSteering();
  steering.send({ type: 'pause' }); // during wave 1
  const { events, deployed, rollout } = rollTwoWaves({ kind: 'delay', ms: 1 }, { waveGate: steering });
  await waitFor('the pause before wave 2', () => events.some((e) => e.type === 'paused'), { timeoutMs: 5000, everyMs: 5 });
  assert.deepEqual(events.find((e) => e.type === 'paused'), { type: 'paused', wave: 2, reason: 'requested' });
  assert.deepEqual(deployed, ['a']);
  steering.send({ type: 'resume' });
  await rollout;
  assert.deepEqual(deployed, ['a', 'b']);
});

/** A terminal that answers `answer` once the question is on `out`. */
function answeringTerminal(answer: string) {
  const out = new PassThrough();
  let asked = '';
  const terminal = Object.assign(new EventEmitter(), { isTTY: true, resume() {}, pause() {} });
  out.on('data', (c: Buffer) => {
    asked += c.toString();
    setImmediate(() => terminal.emit('data', Buffer.from(answer)));
  });
  return { terminal, out, asked: () => asked };
}

for (const [answer, outcome] of [['y\n', 'activated'], ['n\n', 'held']] as const) {
  void test(`without -i, pause: confirm asks on the terminal through the run's wave gate, paused/resumed as with -i; ${answer.trim()}: b ${outcome}`, async () => {
    const t = answeringTerminal(answer);
    const gate = confirmOnTerminal(t.terminal, t.out, new AbortController().signal);
    const { events, deployed, ledger, rollout } = rollTwoWaves({ kind: 'confirm' }, { waveGate: gate }, (e) => gate.onEvent(e));
    await rollout;
    assert.equal(t.asked(), 'fleet: wave 1 of 2 passed; start wave 2? [y/N] ');
    const gates = events.filter((e) => ['wave-done', 'paused', 'resumed', 'wave-start'].includes(e.type)).map((e) => e.type === 'paused' ? `paused ${e.reason}` : e.type);
    assert.deepEqual(gates, answer === 'y\n' ? ['wave-start', 'wave-done', 'paused confirm', 'resumed', 'wave-start', 'wave-done'] : ['wave-start', 'wave-done', 'paused confirm']);
    assert.deepEqual(deployed, answer === 'y\n' ? ['a', 'b'] : ['a']);
    assert.equal(ledger.results.get('b')?.outcome, outcome);
  });
}

void test('the terminal wave gate asks only for pause: confirm, and Ctrl+C (the signal) ends its question with no', async () => {
  const t = answeringTerminal('y\n');
  const c = new AbortController();
  const gate = confirmOnTerminal(t.terminal, t.out, c.signal);
  gate.onEvent({ type: 'paused', wave: 2, reason: 'requested', v: 2, run: 'r', seq: 1, time: '' });
  assert.equal(t.asked(), '', 'a pause asked for is -i\'s: nothing to ask here');
  assert.equal(gate.takePause(), false);

  const silent = Object.assign(new EventEmitter(), { isTTY: true, resume() {}, pause() {} });
  const quiet = confirmOnTerminal(silent, new PassThrough(), c.signal);
  const waiting = quiet.resumed(new AbortController().signal);
  quiet.onEvent({ type: 'paused', wave: 3, reason: 'confirm', v: 2, run: 'r', seq: 2, time: '' });
  assert.equal(silent.listenerCount('data'), 1, 'asking');
  c.abort();
  assert.equal(await waiting, false);
  assert.equal(silent.listenerCount('data'), 0);
});
