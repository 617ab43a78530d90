// `-i`: the plan waits for the person at the terminal. Meanwhile the builds go on and each node's closure
// diff comes as a `diff` event once its new system exists; nothing is copied or activated before approval.
import pLimit from 'p-limit';
import { ClosureReader } from '../diff/compare.js';
import { groupDiffs } from '../diff/group.js';
import { diffWhenBuilt } from '../diff/node.js';
import type { Plan } from '../plan/types.js';
import { systemOf } from '../records/record.js';
import type { Builds } from '../build/builds.js';
import type { RunState } from './state.js';
import type { Review } from './steering.js';

/** True: deploy. False: declined, or interrupted (Ctrl+C) while waiting. */
export async function reviewPlan(run: RunState, plan: Plan, builds: Builds, gate: Review): Promise<boolean> {
  run.emit({ type: 'review', state: 'waiting' });
  // The diffs only serve the review: once it is decided, reads still under way are cut short.
  const decided = new AbortController();
  const signal = AbortSignal.any([decided.signal, run.stop.signal]);
  const reader = new ClosureReader({ signal });
  const limit = pLimit(64);
  const diffs = run.traits.probes ? plan.nodes.filter((np) => np.activate && !run.results.has(np.name)).map(async (np) => {
    const from = systemOf(run.goal, run.targets.get(np.name));
    // The signal also ends the wait for a build: approving must not wait for every build to finish.
    const r = await diffWhenBuilt({ plan: np, ...(from ? { from } : {}), target: run.options.pool.forNode(run.nodes.get(np.name)!), builds, reader, limit, signal });
    if (signal.aborted) return;
    if (r.kind === 'diff') for (const group of groupDiffs([r.diff])) run.emit({ type: 'diff', ...group });
    else run.emit({ type: 'log', node: np.name, line: `diff: ${r.error.message}` });
  }) : [];

  const approved = await gate.review(run.options.signal);
  decided.abort();
  await Promise.allSettled(diffs);
  if (run.options.signal.aborted) return false;
  run.emit({ type: 'review', state: approved ? 'approved' : 'declined' });
  return approved;
}
