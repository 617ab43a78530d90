import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Builder, ResolvedNode } from '../../src/config/types.js';
import type { NodeEval } from '../../src/nix/eval.js';
import { formatPlan } from '../../src/plan/format.js';
import { createPlan, type PlanInput } from '../../src/plan/plan.js';
import { resolvedNode } from '../resolved-node.js';
import type { TargetState } from '../../src/agent/state.js';

const node = resolvedNode;
const evalOf = (cfg: string): NodeEval => ({ drvPath: `/nix/store/d-${cfg}.drv`, outPath: `/nix/store/o-${cfg}` });
const fresh: TargetState = { hasOut: false, systemd: false, profileTarget: '/nix/store/o-old', currentSystem: '/nix/store/o-old', generation: 1, profileLink: 'system-1-link' };
const running = (cfg: string): TargetState => ({ ...fresh, hasOut: true, profileTarget: `/nix/store/o-${cfg}`, currentSystem: `/nix/store/o-${cfg}` });
const builder: Builder = { name: 'big', host: { host: 'build-1', user: 'nix' }, systems: ['x86_64-linux'], maxJobs: 8, speedFactor: 1, supportedFeatures: [], mandatoryFeatures: [], sshOptions: [], connectTimeoutMs: 10_000 };

function input(nodes: ResolvedNode[], cfgs: string[], states: TargetState[], extra: Partial<PlanInput> = {}): PlanInput {
  return {
    goal: 'switch', force: false, nodes, builders: { big: builder },
    evals: Object.fromEntries(nodes.map((n, i) => [n.name, evalOf(cfgs[i]!)])),
    targets: Object.fromEntries(nodes.map((n, i) => [n.name, states[i]!])),
    ...extra,
  };
}

test('identical configurations are built once per build host, in one job', () => {
  const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => node(n));
  const plan = createPlan(input(nodes, ['x', 'x', 'x', 'y', 'y', 'z'], nodes.map(() => fresh)));
  assert.equal(plan.builds.length, 1);
  assert.deepEqual(plan.builds[0]!.drvPaths, ['/nix/store/d-x.drv', '/nix/store/d-y.drv', '/nix/store/d-z.drv']);
  assert.deepEqual(plan.builds[0]!.nodes, ['a', 'b', 'c', 'd', 'e', 'f']);
  assert.ok(plan.nodes.every((n) => n.activate && n.copy.kind === 'from-local'));
});

test('the same derivation on two build locations is built on each', () => {
  const nodes = [node('a'), node('b', { buildHost: { kind: 'builder', name: 'big' } }), node('c', { buildHost: { kind: 'target' } })];
  const plan = createPlan(input(nodes, ['x', 'x', 'x'], nodes.map(() => fresh)));
  assert.deepEqual(plan.builds.map((j) => [j.id, j.drvPaths.length]), [['local', 1], ['builder:big', 1], ['node:c', 1]]);
  assert.deepEqual(plan.nodes.map((n) => n.copy), [
    { kind: 'from-local' },
    { kind: 'from-build-host', buildJob: 'builder:big' },
    { kind: 'none', reason: 'built-on-target' },
  ]);
});

test('a builder that is the target itself needs no copy', () => {
  const target = node('b', { host: 'build-1', user: 'nix', buildHost: { kind: 'builder', name: 'big' } });
  const plan = createPlan(input([target], ['x'], [fresh]));
  assert.deepEqual(plan.nodes[0]!.copy, { kind: 'none', reason: 'built-on-target' });
});

test('a target that already has the path gets no build and no copy, but is activated', () => {
  const plan = createPlan(input([node('a')], ['x'], [{ ...fresh, hasOut: true }]));
  assert.equal(plan.builds.length, 0);
  assert.deepEqual(plan.nodes[0]!.copy, { kind: 'none', reason: 'present' });
  assert.equal(plan.nodes[0]!.activate, true);
});

test('up-to-date nodes are unchanged unless --force', () => {
  const nodes = [node('a'), node('b')];
  const plan = createPlan(input(nodes, ['x', 'y'], [running('x'), fresh]));
  assert.deepEqual(plan.nodes.map((n) => [n.name, n.activate, n.reason]), [['a', false, 'up to date'], ['b', true, 'switch needed']]);
  assert.deepEqual(plan.builds[0]!.nodes, ['b']);
  const forced = createPlan(input(nodes, ['x', 'y'], [running('x'), fresh], { force: true }));
  assert.equal(forced.nodes[0]!.activate, true);
  assert.match(forced.nodes[0]!.reason, /--force/);
});

test('up to date means: profile for boot, running system for test, both for switch', () => {
  const profileOnly: TargetState = { ...fresh, hasOut: true, profileTarget: '/nix/store/o-x' };
  const runningOnly: TargetState = { ...fresh, hasOut: true, currentSystem: '/nix/store/o-x' };
  const activates = (goal: PlanInput['goal'], state: TargetState) => createPlan(input([node('a')], ['x'], [state], { goal })).nodes[0]!.activate;
  assert.equal(activates('boot', profileOnly), false);
  assert.equal(activates('switch', profileOnly), true);
  assert.equal(activates('test', runningOnly), false);
  assert.equal(activates('switch', runningOnly), true);
  assert.equal(activates('dry-activate', running('x')), true);
});

test('goal build builds everything and touches no target', () => {
  const nodes = [node('a'), node('b')];
  const plan = createPlan({ ...input(nodes, ['x', 'y'], []), goal: 'build', targets: {} });
  assert.equal(plan.builds[0]!.drvPaths.length, 2);
  assert.ok(plan.nodes.every((n) => !n.activate && n.copy.kind === 'none'));
});

test('goal push copies what is missing and activates nothing', () => {
  const nodes = [node('a'), node('b')];
  const plan = createPlan(input(nodes, ['x', 'x'], [fresh, { ...fresh, hasOut: true }], { goal: 'push' }));
  assert.deepEqual(plan.nodes.map((n) => [n.copy.kind, n.activate]), [['from-local', false], ['none', false]]);
  assert.deepEqual(plan.builds[0]!.nodes, ['a']);
});

test('nodes whose evaluation failed are not planned', () => {
  const nodes = [node('a'), node('b')];
  const base = input(nodes, ['x', 'y'], [fresh, fresh]);
  const plan = createPlan({ ...base, evals: { a: evalOf('x') } });
  assert.deepEqual(plan.nodes.map((n) => n.name), ['a']);
});

test('the printed plan names build hosts, routes and counts', () => {
  const nodes = [node('a'), node('b', { buildHost: { kind: 'builder', name: 'big' } }), node('c')];
  const text = formatPlan(createPlan(input(nodes, ['x', 'y', 'z'], [fresh, fresh, running('z')])));
  assert.match(text, /on local: 1 derivation\(s\) for 1 node\(s\)/);
  assert.match(text, /on builder:big: 1 derivation/);
  assert.match(text, /b +activate +copy from builder:big \(relay if direct fails\)/);
  assert.match(text, /c +no activation .*up to date/);
  assert.match(text, /summary: 2 build\(s\), 2 copy\(ies\), 2 activation\(s\), 1 node\(s\) without activation/);
});

test('planning 10,000 nodes is linear enough to stay fast', () => {
  const nodes = Array.from({ length: 10_000 }, (_, i) => node(`n${i}`));
  const cfgs = nodes.map((_, i) => `c${i % 50}`);
  const plan = createPlan(input(nodes, cfgs, nodes.map(() => fresh)));
  assert.equal(plan.builds[0]!.drvPaths.length, 50);
  assert.equal(plan.nodes.length, 10_000);
});

test('each node says what it runs now and what it will run; the printed plan shows from -> to', () => {
  const nodes = [node('a'), node('b')];
  const booted: TargetState = { ...fresh, bootedSystem: '/nix/store/o-older' };
  const plan = createPlan(input(nodes, ['x', 'y'], [booted, running('y')]));
  assert.deepEqual(plan.nodes[0]!.from, { profileTarget: '/nix/store/o-old', currentSystem: '/nix/store/o-old', bootedSystem: '/nix/store/o-older', generation: 1, profileLink: 'system-1-link' });
  assert.deepEqual(plan.nodes[0]!.to, { system: '/nix/store/o-x' });
  const text = formatPlan(plan);
  assert.match(text, /gen 1 \/nix\/store\/o-old \(booted \/nix\/store\/o-older\) → \/nix\/store\/o-x {2}\(\/nix\/store\/o-x\)/);
  assert.match(text, /gen 1 \/nix\/store\/o-y → \/nix\/store\/o-y/);
  const buildOnly = createPlan({ ...input(nodes, ['x', 'y'], []), goal: 'build', targets: {} });
  assert.equal(buildOnly.nodes[0]!.from, undefined, 'build never asks targets');
  assert.match(formatPlan(buildOnly), /not asked → \/nix\/store\/o-x/);
});

test('store paths are cut to a short hash and the name, anything else is kept', async () => {
  const { shortStorePath } = await import('../../src/plan/format.js');
  assert.equal(shortStorePath('/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web-24.05'), '0123456-nixos-system-web-24.05');
  assert.equal(shortStorePath('system-3-link'), 'system-3-link');
});

test('a node evaluating to a system its builder cannot build fails with both named', async () => {
  const { checkBuildSystems } = await import('../../src/evaluate/systems.js');
  const nodes = [node('arm', { buildHost: { kind: 'builder', name: 'big' } }), node('x86', { buildHost: { kind: 'builder', name: 'big' } }), node('local')];
  const evals = { arm: { ...evalOf('a'), system: 'aarch64-linux' }, x86: { ...evalOf('b'), system: 'x86_64-linux' }, local: { ...evalOf('c'), system: 'aarch64-linux' } };
  const errors = checkBuildSystems(nodes, evals, { big: builder });
  assert.deepEqual(errors.map((e) => e.message), ['arm: evaluate: evaluates to system aarch64-linux, which builder big cannot build (its systems: x86_64-linux)']);
});

test('buildHost: builders: a node whose evaluated system no builder lists fails with the builders named', async () => {
  const { checkBuildSystems } = await import('../../src/evaluate/systems.js');
  const nodes = [node('arm', { buildHost: { kind: 'builders' } }), node('x86', { buildHost: { kind: 'builders' } })];
  const evals = { arm: { ...evalOf('a'), system: 'aarch64-linux' }, x86: { ...evalOf('b'), system: 'x86_64-linux' } };
  assert.deepEqual(checkBuildSystems(nodes, evals, { big: builder }).map((e) => e.message), [
    'arm: evaluate: evaluates to system aarch64-linux, which none of the builders can build (big: x86_64-linux)',
  ]);
});
