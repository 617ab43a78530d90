// `apply` as a composition: evaluate, start builds, probe and plan, then run the stages; summarise.
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { createPlan } from '../plan/plan.js';
import { evaluateFleet, probeAndPlan } from '../plan/prepare.js';
import type { Plan } from '../plan/types.js';
import { startBuilds } from './builds.js';
import { decideExitCode } from './outcome.js';
import { schedule } from './scheduler.js';
import { STAGES } from './stages.js';
import { SshConnectError } from '../transport/ssh.js';
import { fleetVersion } from '../version.js';
import { createRunState, finishNode, stopReason, type ExecuteOptions, type NodeResult, type RunState } from './state.js';

export interface ApplyResult {
  plan?: Plan;
  nodes: Record<string, NodeResult>;
  exitCode: number;
  interrupted: boolean;
}

export interface ApplyOptions extends ExecuteOptions {
  runId: string;
  /** Hands the run state to the caller as soon as it exists (the CLI's forced quit reads `activating`). */
  onRun?: (run: RunState) => void;
}

export async function applyFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: ApplyOptions): Promise<ApplyResult> {
  const run = createRunState(options.runId, fleet, nodes, options);
  options.onRun?.(run);
  const prepare = { ...options, signal: run.stop.signal };
  run.emit({ type: 'run-start', command: 'apply', goal: run.goal, nodes: nodes.map((n) => n.name), fleetVersion: fleetVersion() });

  const evaluated = await evaluateFleet(fleet, nodes, prepare);
  const outOf = new Map(Object.values(evaluated.evals).map((e) => [e.drvPath, e.outPath]));
  // Everything the run may need, built while the targets are asked; the plan then keeps what it needs.
  const everything = createPlan({ goal: run.goal, force: true, nodes: evaluated.nodes, builders: fleet.builders, evals: evaluated.evals, targets: {} });
  const builds = startBuilds(run, everything.builds, outOf);
  const prepared = await probeAndPlan(fleet, evaluated, prepare);
  for (const [name, state] of Object.entries(prepared.states)) run.targets.set(name, state);
  for (const f of prepared.failures) {
    // A connect cancelled by Ctrl+C is a node never started, not a node that failed.
    if (f.cause instanceof SshConnectError && f.cause.reason === 'canceled') finishNode(run, f.node, 'skipped', stopReason(run));
    else finishNode(run, f.node, 'failed', f.message, f.log ? f.log.split('\n').filter((l) => l.trim() !== '') : undefined);
  }
  run.emit({ type: 'plan', plan: prepared.plan });
  builds.keepOnly(prepared.plan);

  await schedule(run, prepared.plan, builds, STAGES);
  await builds.settled();
  for (const node of nodes) if (!run.results.has(node.name)) finishNode(run, node.name, 'skipped', 'not planned');

  const interrupted = options.signal.aborted;
  const results = Object.fromEntries(nodes.map((n) => [n.name, run.results.get(n.name)!]));
  const exitCode = decideExitCode(Object.values(results).map((r) => r.outcome), interrupted);
  run.emit({ type: 'summary', command: 'apply', goal: run.goal, exitCode, durationMs: Date.now() - run.startedAt, interrupted, nodes: results });
  return { plan: prepared.plan, nodes: results, exitCode, interrupted };
}
