// Evaluate, ask the targets, plan: everything `fleet plan` shows and `fleet apply` then executes.
// Two steps (src/evaluate, then this) so apply can start builds between them (builds change no target).
import type { ResolvedFleet } from '../config/types.js';
import type { NodeError } from '../errors.js';
import type { Evaluated, EvaluateOptions } from '../evaluate/evaluate.js';
import { goalTraits } from '../goal.js';
import type { RolloutOptions } from '../rollout/options.js';
import { createPlan } from '../plan/plan.js';
import { probeTargets } from '../probe/probe.js';
import type { ProbeLock } from '../lock/take.js';
import type { Plan } from '../plan/types.js';
import type { TargetState } from '../agent/state.js';

export interface PrepareOptions extends EvaluateOptions {
  force: boolean;
  /** The targets' locks: read (fleet plan) or taken (apply) by the probe. */
  lock?: ProbeLock;
  /** Staged (`rollout.staged`): the plan gets its waves. */
  rollout?: RolloutOptions;
}

export interface Prepared {
  plan: Plan;
  states: Record<string, TargetState>;
  failures: NodeError[];
}

/** Ask the targets (read-only) and plan from -> to for every node that evaluated. */
export async function probeAndPlan(fleet: ResolvedFleet, evaluated: Evaluated, options: PrepareOptions): Promise<Prepared> {
  const probed = await probeEvaluated(evaluated, options);
  return { plan: planProbed(fleet, evaluated, probed, options), ...probed };
}

/** Ask the targets of the nodes that evaluated (apply asks each evaluated chunk's as it comes). `failures`: the
 *  evaluation's and the probe's. */
export async function probeEvaluated(evaluated: Evaluated, options: PrepareOptions): Promise<Omit<Prepared, 'plan'>> {
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
  return { states, failures };
}

/** The plan (pure) of the nodes that evaluated and answered. */
export function planProbed(fleet: ResolvedFleet, evaluated: Evaluated, probed: Omit<Prepared, 'plan'>, options: Pick<PrepareOptions, 'goal' | 'force' | 'rollout'>): Plan {
  const failed = new Set(probed.failures.map((f) => f.node));
  return createPlan({
    goal: options.goal,
    force: options.force,
    nodes: evaluated.nodes.filter((n) => !failed.has(n.name)),
    builders: fleet.builders,
    evals: evaluated.evals,
    targets: probed.states,
    ...(options.rollout?.staged ? { rollout: options.rollout, selected: evaluated.selected } : {}),
  });
}
