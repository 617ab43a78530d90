// The deploy policy of `apply` and `rollback` (src/cli/apply-policy.ts): from commander's options and the fleet
// file, flags over file values, defaults filled in; and each node's magic-rollback window (src/deploy/policy.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyPolicy } from '../../src/cli/apply-policy.js';
import type { RolloutConfig } from '../../src/config/types.js';
import { confirmWindowMs } from '../../src/deploy/policy.js';
import { goalTraits, GOALS } from '../../src/goal.js';
import { resolvedNode } from '../resolved-node.js';

const asApply = { canAsk: false, recordKind: 'deploy' } as const;
const file: RolloutConfig = { waves: [{ count: 1 }, { percent: 20 }], order: ['tag:canary'], maxFailures: { count: 0 }, onFailure: 'rollback-all', pause: { kind: 'delay', ms: 5000 } };

void test('defaults: only --parallel (commander\'s default) given, no rollout key', () => {
  assert.deepEqual(applyPolicy('switch', { parallel: 10 }, undefined, asApply), {
    goal: 'switch', traits: goalTraits('switch'), force: false, showTrace: false, breakLock: false, parallel: 10, maxJobs: 'auto',
    useSubstitutes: false, verbose: false, failFast: true, magicRollback: true,
    rollout: { staged: false, waves: [{ percent: 100 }], order: [], maxFailures: { count: 0 }, onFailure: 'rollback-wave', pause: { kind: 'none' }, yes: false, skipHealthChecks: false },
    staged: false, records: { on: 'all' }, recordKind: 'deploy',
  });
});

void test('every flag lands in the policy', () => {
  const policy = applyPolicy('boot', {
    parallel: 3, maxJobs: 4, force: true, showTrace: true, breakLock: true, useSubstitutes: true, verbose: true, keepGoing: true,
    magicRollback: false, confirmTimeout: 45_000, on: 'tag:web', message: 'hotfix', yes: true, skipHealthChecks: true,
    // What the policy does not carry: the CLI's own business.
    json: true, askSudoPassword: true, interactive: true, metricsFile: 'm.prom', file: 'fleet.yaml',
  }, undefined, { canAsk: true, recordKind: 'rollback' });
  assert.deepEqual({ ...policy, rollout: undefined }, {
    goal: 'boot', traits: goalTraits('boot'), force: true, showTrace: true, breakLock: true, parallel: 3, maxJobs: 4,
    useSubstitutes: true, verbose: true, failFast: false, magicRollback: false, confirmTimeoutMs: 45_000,
    rollout: undefined, staged: false, records: { on: 'tag:web', message: 'hotfix' }, recordKind: 'rollback',
  });
  assert.deepEqual([policy.rollout.yes, policy.rollout.skipHealthChecks], [true, true]);
});

void test('rollout flags win over the fleet file\'s keys, the others keep the file\'s; a staged rollout is never fail-fast', () => {
  const fromFile = applyPolicy('switch', { parallel: 10 }, file, asApply);
  assert.deepEqual(fromFile.rollout, { ...file, staged: true, yes: false, skipHealthChecks: false });
  assert.deepEqual([fromFile.staged, fromFile.failFast], [true, false]);
  const flags = { waves: [{ count: 2 }], maxFailures: { percent: 10 }, onFailure: 'stop' as const };
  assert.deepEqual(applyPolicy('switch', { parallel: 10, ...flags }, file, asApply).rollout, { ...file, ...flags, staged: true, yes: false, skipHealthChecks: false });
  // A flag alone stages the rollout too.
  assert.equal(applyPolicy('switch', { parallel: 10, waves: [{ count: 1 }] }, undefined, asApply).staged, true);
});

void test('goals that activate nothing: no waves to go through (fail-fast again), no records', () => {
  for (const goal of GOALS) {
    const policy = applyPolicy(goal, { parallel: 10, on: 'a', message: 'm' }, file, asApply);
    const activates = goalTraits(goal).activates;
    assert.deepEqual([policy.staged, policy.failFast, policy.records], activates ? [true, false, { on: 'a', message: 'm' }] : [false, true, undefined], goal);
    assert.equal(policy.rollout.staged, true, `${goal}: the plan still shows the waves`);
  }
});

void test('pause: confirm needs someone to ask or --yes, decided before anything runs', () => {
  const confirm = { ...file, pause: { kind: 'confirm' as const } };
  assert.throws(() => applyPolicy('switch', { parallel: 10 }, confirm, asApply), { name: 'UsageError' });
  assert.deepEqual(applyPolicy('switch', { parallel: 10 }, confirm, { ...asApply, canAsk: true }).rollout.pause, { kind: 'confirm' });
  assert.deepEqual(applyPolicy('switch', { parallel: 10, yes: true }, confirm, asApply).rollout.pause, { kind: 'none' });
});

void test('magic rollback per node: --confirm-timeout over the node\'s confirmTimeout; off by --no-magic-rollback or the node\'s magicRollback: false', () => {
  const node = resolvedNode('a', { confirmTimeoutMs: 20_000 });
  const off = resolvedNode('b', { magicRollback: false });
  const policy = (flags: { magicRollback?: boolean; confirmTimeout?: number }) => applyPolicy('switch', { parallel: 10, ...flags }, undefined, asApply);
  assert.equal(confirmWindowMs(policy({}), node), 20_000);
  assert.equal(confirmWindowMs(policy({ confirmTimeout: 5000 }), node), 5000);
  assert.equal(confirmWindowMs(policy({ confirmTimeout: 5000 }), off), undefined);
  assert.equal(confirmWindowMs(policy({ magicRollback: false, confirmTimeout: 5000 }), node), undefined);
  assert.equal(confirmWindowMs(policy({ magicRollback: true }), node), 20_000, 'commander\'s default (no flag) is on');
});
