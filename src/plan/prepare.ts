// Evaluate, ask the targets, plan: everything `fleet plan` shows and `fleet apply` then executes.
// Two steps so apply can start builds between them (builds change no target).
import pLimit from 'p-limit';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { NodeError } from '../errors.js';
import type { EmitEvent } from '../events.js';
import { goalTraits, type Goal } from '../goal.js';
import { evaluateNodes, type NodeEval } from '../nix/eval.js';
import type { RolloutOptions } from '../rollout/options.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { createPlan } from './plan.js';
import { probeTargets, type ProbeLock } from './probe.js';
import { checkBuildSystems } from './systems.js';
import type { Plan, TargetState } from './types.js';

export interface PrepareOptions {
  goal: Goal;
  force: boolean;
  showTrace: boolean;
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  signal?: AbortSignal;
  /** The targets' locks: read (fleet plan) or taken (apply) by the probe. */
  lock?: ProbeLock;
  /** Staged (`rollout.staged`): the plan gets its waves. */
  rollout?: RolloutOptions;
}

export interface Evaluated {
  selected: readonly ResolvedNode[]; // every selected node, in fleet-file order
  nodes: ResolvedNode[]; // those that evaluated
  evals: Record<string, NodeEval>;
  failures: NodeError[];
  /** Targets the source asked already, under this run's lock (fleet rollback): planned as they are, not asked again. */
  states?: Record<string, TargetState>;
}

export interface Prepared {
  plan: Plan;
  states: Record<string, TargetState>;
  failures: NodeError[];
}

function connectAll(pool: HostPool, nodes: readonly ResolvedNode[]): void {
  const limit = pLimit(64);
  for (const node of nodes) void limit(() => pool.forNode(node).connect().catch(() => undefined));
}

/** One evaluation for all nodes; handshakes with the targets overlap it. */
export async function evaluateFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: PrepareOptions): Promise<Evaluated> {
  for (const node of nodes) options.emit({ type: 'node-phase', node: node.name, phase: 'evaluate', detail: 'evaluating' });
  // probeTargets awaits the same (memoized) connections and reports their failures.
  if (goalTraits(options.goal).probes) connectAll(options.pool, nodes);
  const evaluated = await evaluateNodes(fleet, nodes, { showTrace: options.showTrace, signal: options.signal, emit: options.emit });
  const wrongSystem = checkBuildSystems(nodes, evaluated.results, fleet.builders);
  const failed = new Set(wrongSystem.map((e) => e.node));
  return { selected: nodes, nodes: nodes.filter((n) => evaluated.results[n.name] && !failed.has(n.name)), evals: evaluated.results, failures: [...evaluated.errors, ...wrongSystem] };
}

/** Ask the targets (read-only) and plan from -> to for every node that evaluated. */
export async function probeAndPlan(fleet: ResolvedFleet, evaluated: Evaluated, options: PrepareOptions): Promise<Prepared> {
  const failures = [...evaluated.failures];
  let states: Record<string, TargetState> = {};
  if (goalTraits(options.goal).probes) {
    for (const node of evaluated.nodes) options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: 'connecting' });
    const asked = evaluated.nodes.filter((n) => !evaluated.states?.[n.name]);
    const outPaths = Object.fromEntries(asked.map((n) => [n.name, evaluated.evals[n.name]!.outPath]));
    const probed = await probeTargets(options.pool, asked, outPaths, options.signal, options.lock);
    states = { ...evaluated.states, ...probed.states };
    failures.push(...probed.errors);
  }
  const failed = new Set(failures.map((f) => f.node));
  const plan = createPlan({
    goal: options.goal,
    force: options.force,
    nodes: evaluated.nodes.filter((n) => !failed.has(n.name)),
    builders: fleet.builders,
    evals: evaluated.evals,
    targets: states,
    ...(options.rollout?.staged ? { rollout: options.rollout, selected: evaluated.selected } : {}),
  });
  return { plan, states, failures };
}
