// `fleet plan`'s per-node diff line, for nodes whose new system is already where it would be built (or on
// the target): plan builds nothing, so elsewhere the line says so instead of guessing.
import pLimit from 'p-limit';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { hostForLocation } from '../build/builds.js';
import { goalTraits } from '../goal.js';
import type { Prepared } from '../prepare/prepare.js';
import { systemOf } from '../records/record.js';
import { ClosureReader, compareNode, currentSystemAbsent } from './compare.js';
import { formatNodeSummary } from './format.js';
import { byFleetOrder, groupDiffs, type DiffGroup, type NodeDiff } from './group.js';
import type { DiffOptions } from './run.js';

export interface PlanDiffs {
  /** Per node that would change: its one-line diff, or why there is none. */
  notes: Record<string, string>;
  groups: DiffGroup[];
}

export const cannotCompare = (why: string) => `cannot compare: ${why}`;
export const notBuiltYet = (where: string) => `not built yet on ${where} (fleet diff builds it)`;

export async function diffPlannedNodes(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], prepared: Prepared, options: Omit<DiffOptions, 'maxJobs'>): Promise<PlanDiffs> {
  if (!goalTraits(options.goal).probes) return { notes: {}, groups: [] }; // `build` asks no target: nothing to compare with
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const reader = new ClosureReader({ signal: options.signal });
  const limit = pLimit(64);
  const notes: Record<string, string> = {};
  const diffs: NodeDiff[] = [];
  const jobs = new Map(prepared.plan.builds.map((j) => [j.id, j]));
  await Promise.all(prepared.plan.nodes.map((np) => limit(async () => {
    // What the node runs now as the goal sees it: `boot` compares with the profile (the next boot).
    const from = systemOf(options.goal, prepared.states[np.name]);
    if (from === np.outPath) return; // up to date: nothing to compare
    const target = options.pool.forNode(byName.get(np.name)!);
    const job = np.buildJob !== undefined ? jobs.get(np.buildJob) : undefined;
    const newHost = job ? hostForLocation(options.pool, fleet, byName, job.location, job) : target;
    try {
      const c = await compareNode(reader, { node: np.name, ...(from ? { from } : {}), to: np.outPath, target, newHost });
      if (c.kind === 'diff') {
        notes[np.name] = formatNodeSummary(c.diff.diff);
        diffs.push(c.diff);
      } else if (c.kind === 'new-absent') notes[np.name] = notBuiltYet(job?.id ?? newHost.label);
      else notes[np.name] = cannotCompare(currentSystemAbsent(c.path));
    } catch (error) {
      notes[np.name] = cannotCompare(error instanceof Error ? error.message : String(error));
    }
  })));
  return { notes, groups: groupDiffs(diffs.sort(byFleetOrder(nodes))) };
}
