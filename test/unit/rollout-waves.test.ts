// Wave planning: sizes (counts, % of the selected nodes, the last repeating), order selectors, failure budgets,
// and the waves in the plan (createPlan, `fleet plan` text).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Amount } from '../../src/config/types.js';
import { formatPlan } from '../../src/plan/format.js';
import { createPlan } from '../../src/plan/plan.js';
import { failureBudget, planWaves, waveSize, type WaveRules } from '../../src/rollout/waves.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

const fleetOf = (n: number, tags: (i: number) => string[] = () => []) => Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, tags: tags(i + 1) }));
const rules = (waves: Amount[], extra: Partial<WaveRules> = {}): WaveRules => ({ waves, order: [], maxFailures: { count: 0 }, ...extra });
const sizes = (waves: { nodes: string[] }[]) => waves.map((w) => w.nodes.length);

test('wave sizes: "20%" of 10 nodes is 2 per wave; [1, 5, "20%"] on 23 nodes is 1, 5, 4, 4, 4, 4, 1', () => {
  assert.deepEqual(sizes(planWaves(fleetOf(10), rules([{ percent: 20 }]))), [2, 2, 2, 2, 2]);
  assert.deepEqual(sizes(planWaves(fleetOf(23), rules([{ count: 1 }, { count: 5 }, { percent: 20 }]))), [1, 5, 4, 4, 4, 4, 1]);
});

test('wave sizes: a percentage rounds down but is at least 1; a count past the nodes left takes the rest; 100% is one wave', () => {
  assert.equal(waveSize({ percent: 0 }, 50), 1);
  assert.equal(waveSize({ percent: 10 }, 9), 1);
  assert.equal(waveSize({ percent: 33 }, 10), 3);
  assert.deepEqual(sizes(planWaves(fleetOf(7), rules([{ count: 2 }, { count: 50 }]))), [2, 5]);
  assert.deepEqual(sizes(planWaves(fleetOf(7), rules([{ percent: 100 }]))), [7]);
  assert.deepEqual(sizes(planWaves(fleetOf(3), rules([{ percent: 0 }]))), [1, 1, 1]);
  assert.deepEqual(planWaves([], rules([{ count: 1 }])), []);
});

test('every node is placed exactly once, in fleet-file order without `order`', () => {
  const waves = planWaves(fleetOf(23), rules([{ count: 1 }, { count: 5 }, { percent: 20 }]));
  assert.deepEqual(waves.flatMap((w) => w.nodes), fleetOf(23).map((n) => n.name));
});

test('order: nodes matching the first selector go first, then the second, the rest in fleet-file order; a node matched twice is placed once', () => {
  const nodes = fleetOf(6, (i) => (i === 5 ? ['canary', 'web'] : i % 2 === 0 ? ['web'] : []));
  const waves = planWaves(nodes, rules([{ count: 1 }, { count: 2 }, { percent: 100 }], { order: ['tag:canary', '@web'] }));
  assert.deepEqual(waves.map((w) => w.nodes), [['n5'], ['n2', 'n4'], ['n6', 'n1', 'n3']]);
});

test('order: a selector that matches none of the selected nodes (or empties an intersection) places nothing', () => {
  const nodes = fleetOf(3, (i) => (i === 2 ? ['web'] : []));
  const waves = planWaves(nodes, rules([{ count: 1 }], { order: ['tag:canary', 'n9', 'n*,&tag:db', 'n3'] }));
  assert.deepEqual(waves.map((w) => w.nodes), [['n3'], ['n1'], ['n2']]);
});

test('failure budgets: a count (never more than the wave) or a percentage of the wave rounded down', () => {
  assert.equal(failureBudget({ count: 0 }, 5), 0);
  assert.equal(failureBudget({ count: 2 }, 5), 2);
  assert.equal(failureBudget({ count: 9 }, 1), 1);
  assert.equal(failureBudget({ percent: 10 }, 5), 0, '10% of 5: one failure is 20% > 10%, as Ansible');
  assert.equal(failureBudget({ percent: 10 }, 10), 1);
  assert.equal(failureBudget({ percent: 50 }, 3), 1);
  assert.equal(failureBudget({ percent: 100 }, 4), 4);
  const waves = planWaves(fleetOf(11), rules([{ count: 1 }, { count: 10 }], { maxFailures: { percent: 20 } }));
  assert.deepEqual(waves.map((w) => w.maxFailures), [0, 2]);
});

const node = (name: string, tags: string[] = []) => resolvedNode(name, { tags });
const evalOf = (name: string) => ({ drvPath: `/nix/store/${'d'.repeat(32)}-${name}.drv`, outPath: `/nix/store/${'o'.repeat(32)}-${name}` });

test('createPlan: waves only for a staged rollout of a goal that activates; nodes that could not be planned keep their place', () => {
  const selected = [node('canary-1', ['canary']), node('web-1'), node('web-2'), node('web-3')];
  const planned = selected.filter((n) => n.name !== 'web-2'); // web-2 failed to evaluate
  const base = { goal: 'switch' as const, force: false, nodes: planned, builders: {}, evals: Object.fromEntries(planned.map((n) => [n.name, evalOf(n.name)])), targets: {} };
  const rollout = rules([{ count: 1 }, { count: 2 }], { order: ['tag:canary'], maxFailures: { count: 1 } });
  const plan = createPlan({ ...base, rollout, selected });
  assert.deepEqual(plan.waves, [
    { nodes: ['canary-1'], maxFailures: 1 },
    { nodes: ['web-1', 'web-2'], maxFailures: 1 },
    { nodes: ['web-3'], maxFailures: 1 },
  ]);
  assert.deepEqual(createPlan({ ...base, rollout }).waves?.map((w) => w.nodes), [['canary-1'], ['web-1', 'web-3']], 'without `selected`: the planned nodes');
  assert.equal('waves' in createPlan(base), false, 'no rollout: no waves');
  assert.equal('waves' in createPlan({ ...base, goal: 'build', rollout, selected }), false, 'build activates nothing');
  assert.equal('waves' in createPlan({ ...base, goal: 'push', rollout, selected }), false, 'push activates nothing');
});

test('fleet plan text: a waves section with every node of each wave and its budget', () => {
  const nodes = [node('a'), node('b'), node('c')];
  const plan = createPlan({
    goal: 'switch', force: false, nodes, builders: {}, evals: Object.fromEntries(nodes.map((n) => [n.name, evalOf(n.name)])), targets: {},
    rollout: rules([{ count: 1 }, { percent: 100 }], { maxFailures: { percent: 50 } }),
  });
  const text = formatPlan(plan);
  assert.match(text, /\nwaves:\n {2}1: 1 node\(s\), may fail 0: a\n {2}2: 2 node\(s\), may fail 1: b, c\nsummary:/);
  const { waves: _waves, ...unstaged } = plan;
  assert.doesNotMatch(formatPlan(unstaged), /waves:/);
});

test('probeAndPlan: a staged rollout puts every selected node in the waves, unreachable ones too; unstaged options add none', async () => {
  const { probeAndPlan } = await import('../../src/prepare/prepare.js');
  const { resolveRolloutOptions } = await import('../../src/rollout/options.js');
  const { createLocalHost } = await import('../../src/transport/local.js');
  const selected = [node('a'), node('b'), node('c')];
  const unreachable = { ...createLocalHost(), connect: async () => Promise.reject(new Error('connection refused')) };
  const pool = { targetOf: (n: ReturnType<typeof node>) => targetOver(unreachable, n), limits: { probes: 32, keepIdle: 10 }, keepsMasters: () => true, bestConnectMs: () => undefined } as unknown as Parameters<typeof probeAndPlan>[2]['pool'];
  const evaluated = { selected, nodes: selected, evals: Object.fromEntries(selected.map((n) => [n.name, evalOf(n.name)])), failures: [] };
  const options = { goal: 'switch' as const, force: false, showTrace: false, run: async () => assert.fail('no command runs'), pool, emit: () => {} };
  const staged = resolveRolloutOptions(undefined, { waves: [{ count: 1 }, { count: 2 }] }, false);
  const prepared = await probeAndPlan({ builders: {} } as never, evaluated, { ...options, rollout: staged });
  assert.deepEqual(prepared.failures.map((f) => f.node), ['a', 'b', 'c']);
  assert.deepEqual(prepared.plan.nodes, []);
  assert.deepEqual(prepared.plan.waves, [{ nodes: ['a'], maxFailures: 0 }, { nodes: ['b', 'c'], maxFailures: 0 }]);
  const unstaged = await probeAndPlan({ builders: {} } as never, evaluated, { ...options, rollout: resolveRolloutOptions(undefined, {}, false) });
  assert.equal('waves' in unstaged.plan, false);
});
