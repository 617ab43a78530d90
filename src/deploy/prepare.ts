// Evaluate, ask the targets, plan: everything `fleet plan` shows and `fleet apply` then executes.
import pLimit from 'p-limit';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { NodeError } from '../errors.js';
import { evaluateNodes, type NodeEval } from '../nix/eval.js';
import { createPlan } from '../plan/plan.js';
import type { Plan, TargetState } from '../plan/types.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { stamp, type EmitEvent, type Goal } from './events.js';
import { queryTargets } from './query.js';

export interface PrepareOptions {
  goal: Goal;
  force: boolean;
  showTrace: boolean;
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  signal?: AbortSignal;
}

export interface Prepared {
  plan: Plan;
  evals: Record<string, NodeEval>;
  states: Record<string, TargetState>;
  failures: NodeError[];
}

function connectAll(pool: HostPool, nodes: readonly ResolvedNode[]): void {
  const limit = pLimit(64);
  for (const node of nodes) void limit(() => pool.forNode(node).connect().catch(() => undefined));
}

export async function prepareDeployment(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: PrepareOptions): Promise<Prepared> {
  const { emit } = options;
  for (const node of nodes) emit(stamp({ type: 'node-phase', node: node.name, phase: 'evaluate', detail: 'evaluating' }));
  // Handshakes overlap the evaluation; queryTargets awaits the same (memoized) connections and reports failures.
  if (options.goal !== 'build') connectAll(options.pool, nodes);
  const evaluated = await evaluateNodes(fleet, nodes, { run: options.run, showTrace: options.showTrace, signal: options.signal });
  const failures: NodeError[] = [...evaluated.errors];
  const evaluatedNodes = nodes.filter((n) => evaluated.results[n.name]);

  let states: Record<string, TargetState> = {};
  if (options.goal !== 'build') {
    for (const node of evaluatedNodes) emit(stamp({ type: 'node-phase', node: node.name, phase: 'query', detail: 'connecting' }));
    const outPaths = Object.fromEntries(evaluatedNodes.map((n) => [n.name, evaluated.results[n.name]!.outPath]));
    const queried = await queryTargets(options.pool, evaluatedNodes, outPaths, options.signal);
    states = queried.states;
    failures.push(...queried.errors);
  }
  const failed = new Set(failures.map((f) => f.node));
  const plan = createPlan({
    goal: options.goal,
    force: options.force,
    nodes: evaluatedNodes.filter((n) => !failed.has(n.name)),
    builders: fleet.builders,
    evals: evaluated.results,
    targets: states,
  });
  return { plan, evals: evaluated.results, states, failures };
}
