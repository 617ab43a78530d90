// A plan as people scan it during a run: per node "from → to", store paths cut to hash prefix and name.
import { describeFrom, shortStorePath } from '../plan/format.js';
import type { NodePlan, Plan } from '../plan/types.js';
import { countOf } from './labels.js';

export { describeFrom, shortStorePath };

/** `gen 41 1a2b3c4-… → 9f8e7d6-…  switch needed`; a node already on its system shows only where it is. */
export function describeNodePlan(node: NodePlan): string {
  const to = shortStorePath(node.to.system);
  if (!node.from) return `→ ${to}  ${node.reason}`;
  const running = node.from.currentSystem ?? node.from.profileTarget;
  const locked = node.lock?.state === 'held' && !node.lock.expired; // left alone: it goes nowhere
  if (!node.activate && (running === node.to.system || locked)) return `${describeFrom(node.from)}  ${node.reason}`;
  return `${describeFrom(node.from)} → ${to}  ${node.reason}`;
}

/** The headline: `2 builds, 3 copies, 4 of 5 nodes to activate`. */
export function describePlan(plan: Plan): string {
  const copies = plan.nodes.filter((n) => n.copy.kind !== 'none').length;
  const activations = plan.nodes.filter((n) => n.activate).length;
  return [
    countOf(plan.builds.length, 'build'),
    countOf(copies, 'copy').replace(/copys$/, 'copies'),
    `${activations} of ${countOf(plan.nodes.length, 'node')} to activate`,
  ].join(', ');
}
