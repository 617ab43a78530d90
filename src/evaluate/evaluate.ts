// One evaluation for all the selected nodes, their build systems checked: the first step of `fleet plan`, apply,
// diff and status (src/prepare asks the targets and plans next).
import pLimit from 'p-limit';
import type { TargetState } from '../agent/state.js';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { NodeError } from '../errors.js';
import type { EmitEvent } from '../events.js';
import { goalTraits, type Goal } from '../goal.js';
import { evaluateNodes, evaluateStream, type EvalOutcome, type NodeEval } from '../nix/eval.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { checkBuildSystems } from './systems.js';

export interface EvaluateOptions {
  goal: Goal;
  showTrace: boolean;
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  signal?: AbortSignal;
}

export interface Evaluated {
  selected: readonly ResolvedNode[]; // every selected node, in fleet-file order
  nodes: ResolvedNode[]; // those that evaluated
  evals: Record<string, NodeEval>;
  failures: NodeError[];
  /** Targets the source asked already, under this run's lock (fleet rollback): planned as they are, not asked again. */
  states?: Record<string, TargetState>;
}

function connectAll(pool: HostPool, nodes: readonly ResolvedNode[]): void {
  const limit = pLimit(64);
  for (const node of nodes) void limit(() => pool.forNode(node).connect().catch(() => undefined));
}

/** Everything evaluateFleet and its stream do before Nix starts: the nodes' phase, the handshakes. */
function begin(nodes: readonly ResolvedNode[], options: EvaluateOptions): void {
  for (const node of nodes) options.emit({ type: 'node-phase', node: node.name, phase: 'evaluate', detail: 'evaluating' });
  // probeTargets awaits the same (memoized) connections and reports their failures.
  // Only masters the pool keeps for the next stages: a large fleet's probes go directly (src/probe).
  if (goalTraits(options.goal).probes && options.pool.keepsMasters(nodes.length)) connectAll(options.pool, nodes);
}

/** Nix's results for some of the nodes as Evaluated: those evaluated, their build systems checked. */
function evaluatedOf(fleet: ResolvedFleet, selected: readonly ResolvedNode[], outcome: EvalOutcome): Evaluated {
  const nodes = selected.filter((n) => outcome.results[n.name]);
  const wrongSystem = checkBuildSystems(nodes, outcome.results, fleet.builders);
  const failed = new Set(wrongSystem.map((e) => e.node));
  return { selected, nodes: nodes.filter((n) => !failed.has(n.name)), evals: outcome.results, failures: [...outcome.errors, ...wrongSystem] };
}

/** One evaluation for all nodes; handshakes with the targets overlap it. */
export async function evaluateFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: EvaluateOptions): Promise<Evaluated> {
  begin(nodes, options);
  const evaluated = await evaluateNodes(fleet, nodes, { showTrace: options.showTrace, signal: options.signal, emit: options.emit });
  return evaluatedOf(fleet, nodes, evaluated);
}

/** The same, one part per evaluated chunk as it ends (each node in exactly one part), while other chunks go on. */
export async function* evaluateFleetParts(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: EvaluateOptions): AsyncGenerator<Evaluated> {
  begin(nodes, options);
  for await (const part of evaluateStream(fleet, nodes, { showTrace: options.showTrace, signal: options.signal, emit: options.emit })) yield evaluatedOf(fleet, nodes, part);
}
