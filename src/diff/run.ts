// `fleet diff` as a composition of the apply pipeline's pieces: evaluate, ask the targets, plan, realise
// the new systems where the plan builds them (builds.ts, as apply does), then compare closures. No target
// is changed: the only commands run on targets are the read-only probe and `nix-store --query`.
import pLimit from 'p-limit';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { startBuilds, type BuildRun } from '../build/builds.js';
import { ExitCode, NodeError } from '../errors.js';
import type { EmitEvent } from '../events.js';
import type { Goal } from '../goal.js';
import { probeAndPlan } from '../prepare/prepare.js';
import { evaluateFleet } from '../evaluate/evaluate.js';
import type { NodePlan } from '../plan/types.js';
import { systemOf } from '../records/record.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { linkedStop } from '../util/abort.js';
import { fleetVersion } from '../version.js';
import { ClosureReader } from './compare.js';
import { diffWhenBuilt } from './node.js';
import { byFleetOrder, groupDiffs, type DiffGroup, type NodeDiff } from './group.js';

export interface DiffOptions {
  runId: string;
  goal: Goal;
  maxJobs: number | 'auto';
  showTrace: boolean;
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  signal: AbortSignal;
}

export interface DiffResult {
  groups: DiffGroup[];
  failures: NodeError[];
  exitCode: number;
}

/** The run builds.ts expects; diff never activates, so it needs nothing else of apply's run context. */
export function diffBuildRun(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], o: Pick<DiffOptions, 'run' | 'pool' | 'emit' | 'signal'>): BuildRun {
  return { fleet, nodes: new Map(nodes.map((n) => [n.name, n])), run: o.run, pool: o.pool, emit: o.emit, stop: linkedStop(o.signal) };
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function diffFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: DiffOptions): Promise<DiffResult> {
  const started = Date.now();
  const run = diffBuildRun(fleet, nodes, options);
  const prepare = { goal: options.goal, force: false, showTrace: options.showTrace, run: options.run, pool: options.pool, emit: options.emit, signal: run.stop.signal };
  options.emit({ type: 'run-start', command: 'diff', goal: options.goal, nodes: nodes.map((n) => n.name), fleetVersion: fleetVersion() });

  const evaluated = await evaluateFleet(fleet, nodes, prepare);
  const prepared = await probeAndPlan(fleet, evaluated, prepare);
  options.emit({ type: 'plan', plan: prepared.plan });
  const outOf = new Map(Object.values(evaluated.evals).map((e) => [e.drvPath, e.outPath]));
  // diff has no --use-substitutes: derivations go to build hosts from the deployer's store alone.
  const builds = startBuilds(run, { maxJobs: options.maxJobs, useSubstitutes: false }, prepared.plan.builds, outOf);

  const failures = [...prepared.failures];
  const diffs: NodeDiff[] = [];
  const reader = new ClosureReader({ signal: run.stop.signal });
  const limit = pLimit(64); // bounds file descriptors and sshd MaxStartups, as the probes do
  const diffOne = async (np: NodePlan): Promise<void> => {
    const node = run.nodes.get(np.name)!;
    if (np.buildJob !== undefined) options.emit({ type: 'node-phase', node: np.name, phase: 'build', detail: `building on ${np.buildJob}` });
    // What the node runs now as the goal sees it: `boot` compares with the profile (the next boot).
    const from = systemOf(options.goal, prepared.states[np.name]);
    const r = await diffWhenBuilt({
      plan: np, ...(from ? { from } : {}), target: options.pool.forNode(node), builds, reader, limit,
      reading: () => options.emit({ type: 'node-phase', node: np.name, phase: 'query', detail: 'reading closures' }),
    });
    if (r.kind === 'diff') diffs.push(r.diff);
    else failures.push(r.error);
  };
  await Promise.all(prepared.plan.nodes.map((np) => diffOne(np).catch((error: unknown) => {
    failures.push(new NodeError(np.name, 'query', `unexpected error: ${errorText(error)}`, { cause: error }));
  })));
  await builds.settled();

  const inOrder = byFleetOrder(nodes);
  const groups = groupDiffs(diffs.sort(inOrder));
  for (const g of groups) options.emit({ type: 'diff', ...g });
  failures.sort(inOrder);
  for (const f of failures) {
    const log = f.log.split('\n').filter((l) => l.trim() !== '');
    options.emit({ type: 'node-done', node: f.node, outcome: 'failed', error: f.message, ...(log.length ? { log } : {}) });
  }
  // Ctrl+C cancels the reads in flight: those nodes are not failures of their own.
  const exitCode = options.signal.aborted ? ExitCode.interrupted : failures.length > 0 ? ExitCode.nodesFailed : ExitCode.ok;
  // As for plan: a diff changes nothing, so the summary names only the nodes that could not be compared.
  const results = Object.fromEntries(failures.map((f) => [f.node, { outcome: 'failed' as const, error: f.message }]));
  options.emit({ type: 'summary', command: 'diff', goal: options.goal, exitCode, durationMs: Date.now() - started, interrupted: options.signal.aborted, nodes: results });
  return { groups, failures, exitCode };
}
