// The interactive engine on a light lab: runApply with a steering driven by code (what `-i` sends), checked on the
// hosts themselves. Declining leaves every host as it was; approving deploys; a pause holds the next wave until
// resume; Ctrl+C while paused leaves the later waves untouched (130); declining while paused holds them (1).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { countGenerations, readLocks as locksOn, readSystemState, snapshotHost as snapshot } from '../../lab/index.js';
import type { EventOf, FleetEvent, Outcome } from '../../src/events.js';
import { parseWavesFlag } from '../../src/rollout/flags.js';
import { runSteered, type SteerControl, type SteeredRun, type SteerHandler } from './steered-run.js';
import { configureHive, requireLabCapable, useDeployedLab } from './support.js';

const NODES = ['i1', 'i2', 'i3', 'i4'];
const WAVE_2 = NODES.slice(1);

const outcomesOf = (run: SteeredRun) => {
  const summary = run.events.at(-1) as EventOf<'summary'>;
  assert.equal(summary.type, 'summary');
  return Object.fromEntries(Object.entries(summary.nodes).map(([n, r]) => [n, r.outcome]));
};
const errorsOf = (run: SteeredRun) => Object.fromEntries(Object.entries((run.events.at(-1) as EventOf<'summary'>).nodes).map(([n, r]) => [n, r.error]));
const every = (names: readonly string[], outcome: Outcome) => Object.fromEntries(names.map((n) => [n, outcome]));
const typesOf = (events: readonly FleetEvent[]) => events.map((e) => e.type);
const reviewStates = (run: SteeredRun) => run.events.flatMap((e) => (e.type === 'review' ? [e.state] : []));

/** Answers the review as soon as it waits. */
const answer = (decision: 'approve' | 'decline'): SteerHandler => (e, c) => {
  if (e.type === 'review' && e.state === 'waiting') c.send({ type: decision });
};

/** Approves, presses p while wave 1 runs, and once paused before wave 2 runs `whilePaused`. */
const pausedBeforeWave2 = (whilePaused: (c: SteerControl, paused: EventOf<'paused'>) => Promise<void>): SteerHandler => async (e, c) => {
  await answer('approve')(e, c);
  if (e.type === 'wave-start' && e.wave === 1) c.send({ type: 'pause' });
  if (e.type === 'paused') await whilePaused(c, e);
};

describe('the interactive engine (review, pause, resume, abort) on a 4-node lab', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NODES, `base-${nonce}`);
  /** Every node gets a new system named `tag`; returns the out paths and each host as it is now. */
  const prepare = async (tag: string) => {
    const outs = await configureHive(ctx.lab, ctx.hive, Object.fromEntries(NODES.map((n) => [n, { name: `${tag}-${nonce}` }])));
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await snapshot(ctx.lab, n)] as const)));
    return { outs, before };
  };
  const runs = async (host: string, out: string) => {
    const s = await readSystemState(ctx.lab, host);
    return s.current === out && s.profile === out;
  };
  const waves = parseWavesFlag('1,100%');

  test('declined at review: exit 0, every node skipped, and every host exactly as it was (nothing copied, no lock left)', async () => {
    const { outs, before } = await prepare('declined');
    const run = await runSteered(ctx.fleetFile, answer('decline'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), every(NODES, 'skipped'));
    assert.deepEqual(errorsOf(run), Object.fromEntries(NODES.map((n) => [n, 'not deployed: the plan was declined at review'])));
    assert.deepEqual(reviewStates(run), ['waiting', 'declined']);
    const touching = run.events.filter((e) => e.type === 'node-phase' && ['copy', 'activate', 'verify', 'confirm'].includes(e.phase));
    assert.deepEqual(touching, [], 'nothing copied or activated');
    for (const n of NODES) {
      assert.deepEqual(await snapshot(ctx.lab, n), before[n], `${n} untouched`);
      assert.equal((await ctx.lab.exec(n, ['nix-store', '--check-validity', outs[n]!])).exitCode, 1, `the new system was not copied to ${n}`);
      assert.equal(await locksOn(ctx.lab, n), '', `no lock left on ${n}`);
    }
  });

  test('Ctrl+C at the review: exit 130, every node skipped, no host touched', async () => {
    const { before } = await prepare('interrupted');
    const run = await runSteered(ctx.fleetFile, (e, c) => (e.type === 'review' && e.state === 'waiting' ? c.abort() : undefined));
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(outcomesOf(run), every(NODES, 'skipped'));
    assert.deepEqual(errorsOf(run), Object.fromEntries(NODES.map((n) => [n, 'interrupted before it started'])));
    assert.deepEqual(reviewStates(run), ['waiting'], 'neither approved nor declined');
    for (const n of NODES) {
      assert.deepEqual(await snapshot(ctx.lab, n), before[n], `${n} untouched`);
      assert.equal(await locksOn(ctx.lab, n), '', `no lock left on ${n}`);
    }
  });

  test('approved at review: exit 0, every node activated and running its new system', async () => {
    const { outs, before } = await prepare('approved');
    const run = await runSteered(ctx.fleetFile, answer('approve'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), every(NODES, 'activated'));
    assert.deepEqual(reviewStates(run), ['waiting', 'approved']);
    for (const n of NODES) {
      assert.ok(await runs(n, outs[n]!), `${n} runs and boots its new system`);
      assert.equal(await countGenerations(ctx.lab, n), before[n]!.generations + 1);
    }
  });

  test('a pause asked during wave 1 holds wave 2 (its hosts untouched, no event) until resume; then wave 2 deploys', async () => {
    const { outs, before } = await prepare('paused');
    let checkedWhilePaused = false;
    const run = await runSteered(ctx.fleetFile, pausedBeforeWave2(async (c, paused) => {
      assert.deepEqual([paused.wave, paused.reason], [2, 'requested']);
      assert.ok(await runs('i1', outs.i1!), 'wave 1 deployed before the pause');
      for (const n of WAVE_2) assert.deepEqual(await snapshot(ctx.lab, n), before[n], `${n} untouched while paused`);
      assert.equal(c.events.at(-1), paused, 'the run waits: nothing happened since it paused');
      for (const n of NODES) assert.equal(await locksOn(ctx.lab, n), 'nix-var-nix-profiles-system', `the paused run still holds ${n}`);
      checkedWhilePaused = true;
      c.send({ type: 'resume' });
    }), { waves });
    assert.ok(checkedWhilePaused);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), every(NODES, 'activated'));
    const steps = typesOf(run.events).filter((t) => ['wave-start', 'wave-done', 'paused', 'resumed'].includes(t));
    assert.deepEqual(steps, ['wave-start', 'wave-done', 'paused', 'resumed', 'wave-start', 'wave-done']);
    for (const n of NODES) assert.ok(await runs(n, outs[n]!), `${n} runs its new system after resume`);
    // Built and copied, a later wave's node says which wave it waits for (else it reads "copying" until then).
    for (const n of WAVE_2) {
      const phases = run.events.flatMap((e) => (e.type === 'node-phase' && e.node === n ? [`${e.phase}: ${e.detail}`] : []));
      const ready = phases.indexOf('ready: built and copied; waits for wave 2');
      assert.ok(ready >= 0 && ready < phases.findIndex((p) => p.startsWith('activate:')), `${n}: ready before its activation: ${phases.join(' | ')}`);
    }
  });

  test('Ctrl+C while paused: exit 130, wave 1 stays deployed, wave 2 skipped and untouched, no lock left', async () => {
    const { outs, before } = await prepare('aborted');
    const run = await runSteered(ctx.fleetFile, pausedBeforeWave2(async (c) => c.abort()), { waves });
    assert.equal(run.code, 130, run.stderr);
    assert.equal((run.events.at(-1) as EventOf<'summary'>).interrupted, true);
    assert.deepEqual(outcomesOf(run), { i1: 'activated', ...every(WAVE_2, 'skipped') });
    assert.deepEqual(typesOf(run.events).filter((t) => t === 'wave-start' || t === 'resumed'), ['wave-start'], 'wave 2 never started');
    assert.ok(await runs('i1', outs.i1!));
    for (const n of WAVE_2) assert.deepEqual(await snapshot(ctx.lab, n), before[n], `${n} untouched`);
    for (const n of NODES) assert.equal(await locksOn(ctx.lab, n), '', `no lock left on ${n}`);
  });

  test('declined while paused: exit 1, wave 2 held and untouched', async () => {
    const { outs, before } = await prepare('held');
    const run = await runSteered(ctx.fleetFile, pausedBeforeWave2(async (c) => c.send({ type: 'decline' })), { waves });
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { i1: 'activated', ...every(WAVE_2, 'held') });
    for (const n of WAVE_2) {
      const done = run.events.find((e): e is EventOf<'node-done'> => e.type === 'node-done' && e.node === n);
      assert.equal(done?.error, 'not started: the rollout was not continued after wave 1', n);
    }
    assert.ok(await runs('i1', outs.i1!));
    for (const n of WAVE_2) assert.deepEqual(await snapshot(ctx.lab, n), before[n], `${n} untouched`);
  });
});
