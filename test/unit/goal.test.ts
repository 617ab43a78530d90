import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEventStream, newRunId, type FleetEvent } from '../../src/events.js';
import { GOALS, goalTraits, isGoal, isUpToDate, isVerified } from '../../src/goal.js';

test('each goal says what it does: probe, copy, activate, set the profile, change the running system', () => {
  const table = Object.fromEntries(GOALS.map((g) => [g, Object.entries(goalTraits(g)).filter(([, v]) => v).map(([k]) => k).join(',')]));
  assert.deepEqual(table, {
    switch: 'probes,copies,activates,setsProfile,changesRunning',
    boot: 'probes,copies,activates,setsProfile',
    test: 'probes,copies,activates,changesRunning',
    'dry-activate': 'probes,copies,activates',
    build: '',
    push: 'probes,copies',
  });
  assert.ok(isGoal('boot') && !isGoal('reboot'));
});

test('up to date and verified look at what the goal changes', () => {
  const out = '/nix/store/new';
  const both = { profileTarget: out, currentSystem: out };
  const onlyProfile = { profileTarget: out, currentSystem: '/nix/store/old' };
  assert.equal(isUpToDate('switch', both, out), true);
  assert.equal(isUpToDate('switch', onlyProfile, out), false);
  assert.equal(isUpToDate('boot', onlyProfile, out), true);
  assert.equal(isUpToDate('test', onlyProfile, out), false);
  assert.equal(isUpToDate('dry-activate', both, out), false, 'dry-activate always runs');
  assert.equal(isUpToDate('push', both, out), false);
  assert.equal(isVerified('dry-activate', {}, out), true);
  assert.equal(isVerified('test', { currentSystem: out }, out), true);
});

test('every event gets the envelope: version 2, the run id, a gapless sequence, the time', () => {
  const seen: FleetEvent[] = [];
  const run = newRunId(new Date('2026-11-21T09:15:02.123Z'));
  assert.match(run, /^20261121T091502Z-[0-9a-f]{8}$/);
  assert.notEqual(newRunId(), newRunId());
  const emit = createEventStream(run, (e) => seen.push(e), () => new Date('2026-11-21T09:15:03.000Z'));
  emit({ type: 'node-phase', node: 'a', phase: 'copy', detail: 'x' });
  emit({ type: 'node-done', node: 'a', outcome: 'activated' });
  assert.deepEqual(seen.map((e) => [e.v, e.run, e.seq, e.time, e.type]), [
    [2, run, 1, '2026-11-21T09:15:03.000Z', 'node-phase'],
    [2, run, 2, '2026-11-21T09:15:03.000Z', 'node-done'],
  ]);
});
