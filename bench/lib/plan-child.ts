// Child process of plan-10k: load a fleet file, invent evaluation results and target states for every node,
// and time the pure planner (createPlan) on them. Prints one JSON line; GNU time measures the whole process.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadFleet } from '../../src/config/index.js';
import type { NodeEval } from '../../src/nix/eval.js';
import { createPlan } from '../../src/plan/plan.js';
import type { TargetState } from '../../src/agent/state.js';

// Real NixOS fleets have one distinct system per node (host names, keys...): the planner's worst case.
const distinctSystems = (count: number) => Number(process.env.PLAN_CONFIGS) || count;

function storePath(name: string, suffix = ''): string {
  return `/nix/store/${createHash('sha256').update(name + suffix).digest('hex').slice(0, 32)}-${name}${suffix}`;
}

const file = process.argv[2];
if (!file) throw new Error('usage: plan-child.ts FLEET_FILE');
const t0 = performance.now();
const fleet = await loadFleet(file);
const nodes = Object.values(fleet.nodes);
const t1 = performance.now();

const evals: Record<string, NodeEval> = {};
const targets: Record<string, TargetState> = {};
const configs = distinctSystems(nodes.length);
nodes.forEach((node, i) => {
  const config = `system-${i % configs}`;
  const out = storePath(config);
  evals[node.name] = { drvPath: storePath(config, '.drv'), outPath: out };
  // A third up to date, a third with the new system already in their store, a third needing everything.
  const kind = i % 3;
  targets[node.name] = kind === 0
    ? { hasOut: true, profileLink: 'system-7-link', generation: 7, profileTarget: out, currentSystem: out, systemd: true }
    : { hasOut: kind === 1, profileLink: 'system-6-link', generation: 6, profileTarget: storePath('old'), currentSystem: storePath('old'), systemd: true };
});

const t2 = performance.now();
const plan = createPlan({ goal: 'switch', force: false, nodes, builders: fleet.builders, evals, targets });
const t3 = performance.now();

// Check the planner's work against the rules, derived here independently.
const activations = plan.nodes.filter((n) => n.activate).length;
const needBuild = nodes.filter((_n, i) => i % 3 === 2);
const wantJobs = new Set(needBuild.map((n) => (n.buildHost.kind === 'target' ? `node:${n.name}` : n.buildHost.kind === 'builder' ? `builder:${n.buildHost.name}` : n.buildHost.kind)));
const problems = [
  plan.nodes.length === nodes.length ? '' : `planned ${plan.nodes.length} of ${nodes.length} nodes`,
  activations === nodes.length - Math.ceil(nodes.length / 3) ? '' : `${activations} activations`,
  plan.builds.length === wantJobs.size ? '' : `${plan.builds.length} build jobs, expected ${wantJobs.size}`,
  plan.builds.reduce((sum, j) => sum + j.nodes.length, 0) === needBuild.length ? '' : 'build jobs do not cover exactly the nodes needing a build',
].filter(Boolean);
if (problems.length > 0) throw new Error(`the plan is wrong: ${problems.join('; ')}`);

console.log(JSON.stringify({
  nodes: nodes.length, distinctSystems: configs, loadMs: t1 - t0, synthMs: t2 - t1, planMs: t3 - t2, activations, buildJobs: plan.builds.length,
  heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1048576),
}));
