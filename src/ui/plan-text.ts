// A plan as people scan it during a run: per node "from → to", store paths cut to hash prefix and name.
import { describeFrom, shortStorePath } from '../plan/format.js';
import type { NodePlan, Plan, Wave } from '../plan/types.js';
import { formatList } from '../select/messages.js';
import { countOf } from '../util/text.js';

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

/** `wave 2: 5 nodes, may fail 1: web-1, web-2, …` (at most 10 names: a run's log stays readable at 10k nodes). */
export function describeWave(wave: Wave, index: number): string {
  return `wave ${index}: ${countOf(wave.nodes.length, 'node')}, may fail ${wave.maxFailures}: ${formatList(wave.nodes)}`;
}

/** The headline: `2 builds, 3 copies, 4 of 5 nodes to activate` (`, in 3 waves` for a staged rollout). */
export function describePlan(plan: Plan): string {
  const copies = plan.nodes.filter((n) => n.copy.kind !== 'none').length;
  const activations = plan.nodes.filter((n) => n.activate).length;
  return [
    countOf(plan.builds.length, 'build'),
    countOf(copies, 'copy', 'copies'),
    `${activations} of ${countOf(plan.nodes.length, 'node')} to activate${plan.waves ? ` in ${countOf(plan.waves.length, 'wave')}` : ''}`,
  ].join(', ');
}
