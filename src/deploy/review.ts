// `-i`: the plan waits for the person at the terminal. Meanwhile the builds go on and each node's closure
// diff comes as a `diff` event once its new system exists; nothing is copied or activated before approval.
import pLimit from 'p-limit';
import { ClosureReader } from '../diff/compare.js';
import { groupDiffs } from '../diff/group.js';
import { diffWhenBuilt } from '../diff/node.js';
import type { Plan } from '../plan/types.js';
import { systemOf } from '../records/record.js';
import type { Builds } from '../build/builds.js';
import { goalTraits, type Goal } from '../goal.js';
import type { RunContext } from './context.js';
import type { Review } from './steering.js';

/** What the review reads of a deploy run. */
export type ReviewRun = Pick<RunContext, 'emit' | 'signal' | 'stop' | 'pool' | 'nodes' | 'targets'>;

/** True: deploy. False: declined, or interrupted (Ctrl+C) while waiting. `plan`: its nodes without a final word yet. */
export async function reviewPlan(run: ReviewRun, goal: Goal, plan: Plan, builds: Builds, gate: Review): Promise<boolean> {
  run.emit({ type: 'review', state: 'waiting' });
  // The diffs only serve the review: once it is decided, reads still under way are cut short.
  const decided = new AbortController();
  const signal = AbortSignal.any([decided.signal, run.stop.signal]);
  const reader = new ClosureReader({ signal });
  const limit = pLimit(64);
  const diffs = goalTraits(goal).probes ? plan.nodes.filter((np) => np.activate).map(async (np) => {
    const from = systemOf(goal, run.targets.get(np.name));
    // The signal also ends the wait for a build: approving must not wait for every build to finish.
    const r = await diffWhenBuilt({ plan: np, ...(from ? { from } : {}), target: run.pool.forNode(run.nodes.get(np.name)!), builds, reader, limit, signal });
    if (signal.aborted) return;
    if (r.kind === 'diff') for (const group of groupDiffs([r.diff])) run.emit({ type: 'diff', ...group });
    else run.emit({ type: 'log', node: np.name, line: `diff: ${r.error.message}` });
  }) : [];

  const approved = await gate.review(run.signal);
  decided.abort();
  await Promise.allSettled(diffs);
  if (run.signal.aborted) return false;
  run.emit({ type: 'review', state: approved ? 'approved' : 'declined' });
  return approved;
}
