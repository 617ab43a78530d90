import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventBody, FleetEvent } from '../../src/events.js';
import { buildOf, foldEvents, initialView, LOG_CAP, nodeOf, reduceRun, type RunView } from '../../src/ui/view.js';
import { at, buildLog, nodes, record, recordedRun, rollbackLog, rolloutRun, runId, storePath } from './ui-fixture.js';
import { fixture } from './ui-recorded.js';

const fixtureNames = ['declined', 'locked', 'review-waves', 'rollback-failed', 'wave-rollback'];

const start: [number, EventBody] = [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['a', 'b'], fleetVersion: '0.1.0' }];

/** Freeze objects and arrays all the way down (Maps are compared by the snapshot instead). */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Map) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

void test('view: the recorded run, folded', () => {
  const view = foldEvents(recordedRun);
  assert.equal(view.run, runId);
  assert.equal(view.command, 'apply');
  assert.equal(view.goal, 'switch');
  assert.equal(view.fleetVersion, '0.1.0');
  assert.equal(view.startedAt, at(0).toISOString());
  assert.equal(view.endedAt, at(10).toISOString());
  assert.equal(view.lastSeq, recordedRun.length);
  assert.equal(view.ignored, 0);
  assert.deepEqual(view.nodes.map((n) => n.name), nodes);
  assert.deepEqual(
    view.nodes.map((n) => [n.name, n.outcome, n.phase]),
    [['web-1', 'activated', 'verify'], ['web-2', 'unchanged', 'evaluate'], ['web-3', 'rolled-back', 'rollback'], ['db-1', 'failed', 'evaluate'], ['cache-1', 'skipped', 'evaluate']],
  );
  assert.deepEqual(view.counts, {
    unchanged: 1, activated: 1, built: 0, pushed: 0, 'rolled-back': 1, 'rollback-failed': 0, failed: 1, skipped: 1, locked: 0, held: 0, rebooted: 0, 'unreachable-after-reboot': 0, pending: 0,
  });
  assert.equal(view.summary?.exitCode, 1);
  assert.equal(view.plan?.nodes.length, 4);

  const web1 = nodeOf(view, 'web-1')!;
  assert.deepEqual(web1.from, { generation: 41, profileLink: 'system-41-link', profileTarget: storePath('0ld0000', 'nixos-system-web-1'), currentSystem: storePath('0ld0000', 'nixos-system-web-1') });
  assert.deepEqual(web1.to, { system: storePath('9e70000', 'nixos-system-web-1') });
  assert.equal(web1.build, 'local');
  assert.equal(web1.activate, true);
  assert.equal(web1.reason, 'switch needed');
  assert.equal(web1.startedAt, at(1).toISOString());
  assert.equal(web1.phaseSince, at(8).toISOString());
  assert.equal(web1.detail, '/run/current-system');
  assert.equal(web1.endedAt, at(9).toISOString());
  assert.deepEqual(web1.log, ['starting the following units: nginx.service']); // streamed (--verbose)
  assert.equal(nodeOf(view, 'cache-1')!.from, undefined); // never planned: unreachable

  const web3 = nodeOf(view, 'web-3')!;
  assert.deepEqual([web3.error, web3.log, web3.logTotal], ['switch-to-configuration exited with 4', rollbackLog, 25]);

  assert.deepEqual(view.builds.map((b) => b.id), ['local', 'builder:big']);
  const big = buildOf(view, 'builder:big')!;
  assert.deepEqual(
    [big.state, big.ok, big.error, big.drvPaths.length, big.nodes, big.location, big.logTotal],
    ['done', false, 'builder for c.drv failed with exit code 1', 1, ['db-1'], { kind: 'builder', builder: 'big' }, 30],
  );
  assert.deepEqual(big.log, buildLog);
  const local = buildOf(view, 'local')!;
  assert.deepEqual([local.ok, local.error, local.log, local.startedAt, local.endedAt], [true, undefined, ['building /nix/store/d7v-nixos-system-web-1.drv...'], at(2).toISOString(), at(4).toISOString()]);
});

void test('view: reduceRun never changes the view it is given', () => {
  let view = initialView();
  for (const e of recordedRun) {
    const snapshot = structuredClone(view);
    const next = reduceRun(deepFreeze(view), e); // a write to a frozen object throws in a module
    assert.deepEqual(view, snapshot, `event #${e.seq} (${e.type}) changed its input`);
    assert.notEqual(next, view);
    view = next;
  }
  // A node nobody touches is shared between views, not copied.
  const before = foldEvents(recordedRun.slice(0, 8));
  const after = reduceRun(before, recordedRun[8]!);
  assert.equal(nodeOf(after, 'cache-1'), nodeOf(before, 'cache-1'));
});

void test('view: before run-start every node is pending; counts follow outcomes', () => {
  const view = foldEvents(record([start, [1, { type: 'node-done', node: 'a', outcome: 'failed', error: 'x' }]]));
  assert.equal(view.counts.pending, 1);
  assert.equal(view.counts.failed, 1);
  assert.deepEqual(initialView().counts.pending, 0);
});

void test('view: the summary wins over earlier node-done events', () => {
  const view = foldEvents(record([
    start,
    [1, { type: 'node-done', node: 'a', outcome: 'failed', error: 'switch failed', log: ['l1'] }],
    [2, {
      type: 'summary', command: 'apply', goal: 'switch', exitCode: 3, durationMs: 2000, interrupted: false,
      nodes: { a: { outcome: 'rollback-failed', error: 'rollback failed too' }, b: { outcome: 'skipped' }, c: { outcome: 'failed', error: 'late' } },
    }],
  ]));
  assert.deepEqual(
    view.nodes.map((n) => [n.name, n.outcome, n.error]),
    [['a', 'rollback-failed', 'rollback failed too'], ['b', 'skipped', undefined], ['c', 'failed', 'late']],
  );
  assert.deepEqual(nodeOf(view, 'a')!.log, ['l1']); // the summary carries no log: the node's stays
  assert.equal(nodeOf(view, 'b')!.endedAt, at(2).toISOString());
  assert.deepEqual([view.counts.failed, view.counts['rollback-failed'], view.counts.skipped, view.counts.pending], [1, 1, 1, 0]);
});

void test('view: nothing after the summary changes it, nor events of another run or a seq seen before', () => {
  const run = record([start, [1, { type: 'node-done', node: 'a', outcome: 'activated' }]]);
  const summary = record([[2, {
    type: 'summary', command: 'apply', goal: 'switch', exitCode: 0, durationMs: 5, interrupted: false, nodes: { a: { outcome: 'activated' } },
  }]]).map((e) => ({ ...e, seq: 3 }));
  const late: FleetEvent = { ...run[1]!, seq: 4, node: 'b', outcome: 'failed' } as FleetEvent;
  const other: FleetEvent = { ...run[1]!, run: 'another-run', seq: 3, node: 'b', outcome: 'failed' } as FleetEvent;
  const repeated: FleetEvent = { ...run[1]!, node: 'b', outcome: 'failed' } as FleetEvent; // seq 2 again

  const before = foldEvents(run);
  for (const stray of [other, repeated]) {
    const after = reduceRun(before, stray);
    assert.equal(nodeOf(after, 'b')!.outcome, undefined);
    assert.equal(after.ignored, 1);
  }
  const ended = foldEvents([...summary, late], before);
  assert.equal(nodeOf(ended, 'b')!.outcome, undefined);
  assert.equal(ended.lastSeq, 3);
  assert.equal(ended.ignored, 1);
});

void test('view: logs keep the newest LOG_CAP lines and count all of them', () => {
  const n = LOG_CAP + 50;
  const logs = Array.from({ length: n }, (_, i): [number, EventBody] => [1, { type: 'log', node: 'a', line: `out ${i + 1}` }]);
  const buildLogs = Array.from({ length: n }, (_, i): [number, EventBody] => [1, { type: 'log', build: 'local', line: `drv ${i + 1}` }]);
  const view = foldEvents(record([start, ...logs, ...buildLogs]));
  const a = nodeOf(view, 'a')!;
  assert.equal(a.log.length, LOG_CAP);
  assert.equal(a.logTotal, n);
  assert.deepEqual([a.log[0], a.log.at(-1)], ['out 51', `out ${n}`]);
  const local = buildOf(view, 'local')!;
  assert.deepEqual([local.log.length, local.logTotal, local.log[0], local.log.at(-1)], [LOG_CAP, n, 'drv 51', `drv ${n}`]);

  // A node-done log (the failed step's tail) replaces what was streamed, capped the same way.
  const tail = Array.from({ length: n }, (_, i) => `step ${i + 1}`);
  const done = reduceRun(view, { ...record([[2, { type: 'node-done', node: 'a', outcome: 'failed', log: tail }]])[0]!, seq: view.lastSeq + 1 });
  assert.deepEqual([nodeOf(done, 'a')!.log.length, nodeOf(done, 'a')!.logTotal, nodeOf(done, 'a')!.log[0]], [LOG_CAP, n, 'step 51']);
});

void test('view: a build may start before the plan arrives; the plan does not undo what it said', () => {
  const drv = storePath('d7v0000', 'x.drv');
  const view = foldEvents(record([
    start,
    [1, { type: 'build-start', build: 'local', drvPaths: [drv], nodes: ['a'] }],
    [2, { type: 'plan', plan: { goal: 'switch', nodes: [], builds: [
      { id: 'local', location: { kind: 'local' }, drvPaths: [drv, storePath('d7v0001', 'y.drv')], nodes: ['a', 'b'] },
      { id: 'node:b', location: { kind: 'node', node: 'b' }, drvPaths: [drv], nodes: ['b'] },
    ] } }],
  ]));
  assert.deepEqual(
    view.builds.map((b) => [b.id, b.state, b.drvPaths.length, b.nodes, b.location]),
    [['local', 'running', 1, ['a'], { kind: 'local' }], ['node:b', 'planned', 1, ['b'], { kind: 'node', node: 'b' }]],
  );
});

void test('view: a streamed apply\'s plans, one per evaluated chunk, add up (nodes joined, a location\'s derivations joined)', () => {
  const [da, db] = [storePath('d7v0000', 'a.drv'), storePath('d7v0001', 'b.drv')];
  const node = (name: string, drvPath: string) => ({ name, drvPath, outPath: drvPath.slice(0, -4), to: { system: drvPath.slice(0, -4) }, buildJob: 'local', copy: { kind: 'from-local' as const }, activate: true, reason: 'switch needed' });
  const view = foldEvents(record([
    start,
    [1, { type: 'plan', plan: { goal: 'switch', nodes: [node('a', da)], builds: [{ id: 'local', location: { kind: 'local' }, drvPaths: [da], nodes: ['a'] }] } }],
    [2, { type: 'plan', plan: { goal: 'switch', nodes: [node('b', db)], builds: [{ id: 'local', location: { kind: 'local' }, drvPaths: [db], nodes: ['b'] }] } }],
  ]));
  assert.deepEqual(view.plan?.nodes.map((n) => n.name), ['a', 'b']);
  assert.deepEqual(view.plan?.builds.map((b) => [b.id, b.drvPaths, b.nodes]), [['local', [da, db], ['a', 'b']]]);
  assert.deepEqual(view.nodes.map((n) => [n.name, n.build, n.reason]), [['a', 'local', 'switch needed'], ['b', 'local', 'switch needed']]);
});

void test('view: a node the run did not announce is added at the end, never lost', () => {
  const view: RunView = foldEvents(record([start, [1, { type: 'node-phase', node: 'z', phase: 'copy', detail: 'from local' }]]));
  assert.deepEqual(view.nodes.map((n) => [n.name, n.phase]), [['a', undefined], ['b', undefined], ['z', 'copy']]);
  assert.equal(view.counts.pending, 3);
  // Names that are Object.prototype keys are nodes like any other.
  const odd = foldEvents(record([[0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['constructor', 'toString'], fleetVersion: '0' }]]));
  assert.deepEqual(odd.nodes.map((n) => n.name), ['constructor', 'toString']);
  assert.equal(nodeOf(odd, 'hasOwnProperty'), undefined);
});

/** The phase and per-wave counts recounted from the nodes: what the reducer keeps in step event by event. */
function recount(view: RunView): { phases: Record<string, number>; waves: Record<string, number>[] } {
  const phases: Record<string, number> = { ...view.phases };
  for (const k of Object.keys(phases)) phases[k] = 0;
  for (const n of view.nodes) if (!n.outcome) phases[n.phase ?? 'waiting']! += 1;
  const waves = view.waves.map((w) => {
    const c: Record<string, number> = { ...w.counts };
    for (const k of Object.keys(c)) c[k] = 0;
    for (const n of view.nodes) if (n.wave === w.wave) c[n.outcome ?? 'pending']! += 1;
    return c;
  });
  return { phases, waves };
}

for (const [name, events] of [['the recorded run', recordedRun], ['the staged rollout', rolloutRun], ...fixtureNames.map((f) => [`lab recording ${f}`, fixture(f)] as const)] as const) {
  void test(`view: phase counts and each wave's counts equal a recount after every event (${name})`, () => {
    let view = initialView();
    for (const e of events) {
      view = reduceRun(view, e);
      const expected = recount(view);
      assert.deepEqual(view.phases, expected.phases, `phases after event ${e.seq} (${e.type})`);
      assert.deepEqual(view.waves.map((w) => w.counts), expected.waves, `wave counts after event ${e.seq} (${e.type})`);
    }
  });
}

void test('view: the staged rollout counts per wave (1 activated; 2 rolled back; 1 held) and nothing in a phase at the end', () => {
  const view = foldEvents(rolloutRun);
  const pick = (w: number) => Object.fromEntries(Object.entries(view.waves[w]!.counts).filter(([, n]) => n > 0));
  assert.deepEqual([pick(0), pick(1), pick(2)], [{ activated: 1 }, { 'rolled-back': 2 }, { held: 1 }]);
  assert.ok(Object.values(view.phases).every((n) => n === 0));
  const during = foldEvents(rolloutRun.slice(0, rolloutRun.findIndex((e) => e.type === 'health' && e.node === 'web-1')));
  assert.equal(during.phases.activate, 2, 'web-1 and web-2 activating');
  assert.equal(during.phases.waiting, 1, 'web-3 has no phase yet');
  assert.deepEqual(during.waves[1]!.counts.pending, 2);
});
