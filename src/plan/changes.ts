// Whether a plan would change anything: `fleet plan --exit-code` and the Markdown plan's headline.
import { goalTraits, isUpToDate } from '../goal.js';
import type { NodePlan, Plan } from './types.js';

/** Another live run holds the node's lock: apply leaves it alone this time. */
export function isLocked(node: NodePlan): boolean {
  return node.lock?.state === 'held' && !node.lock.expired;
}

/** Would `apply` with this plan change the node: activate it, copy to it (push), or build for it (build)? A node
 *  another run holds counts when it is not on its desired system yet: only that run is in the way. */
export function wouldChange(plan: Plan, node: NodePlan): boolean {
  if (node.activate || node.copy.kind !== 'none' || node.buildJob !== undefined) return true;
  if (!isLocked(node)) return false;
  const traits = goalTraits(plan.goal);
  return traits.activates ? !node.from || !isUpToDate(plan.goal, node.from, node.to.system) : traits.copies;
}

/** The nodes `apply` would change, in plan order. */
export function changingNodes(plan: Plan): NodePlan[] {
  return plan.nodes.filter((n) => wouldChange(plan, n));
}
