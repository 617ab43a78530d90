// A plan as people scan it during a run: per node "from → to", store paths cut to hash prefix and name.
import type { NodePlan, Plan, SystemState } from '../plan/types.js';
import { countOf } from './labels.js';

const storePrefix = /^\/nix\/store\/([0-9a-z]{32})-(.+)$/;

/** `/nix/store/<32-char hash>-nixos-system-web-1` → `1a2b3c4-nixos-system-web-1` (like a short git hash). */
export function shortStorePath(path: string): string {
  const m = storePrefix.exec(path);
  return m ? `${m[1]!.slice(0, 7)}-${m[2]!}` : path;
}

/** What a node runs now: `gen 41 1a2b3c4-nixos-system-web-1`, and what runs if the profile points elsewhere. */
export function describeFrom(from: SystemState): string {
  const gen = from.generation !== undefined ? `gen ${from.generation}` : from.profileLink;
  const profile = from.profileTarget ?? from.currentSystem;
  const parts = [gen, profile && shortStorePath(profile)].filter((p): p is string => !!p);
  if (from.currentSystem && from.profileTarget && from.currentSystem !== from.profileTarget) {
    parts.push(`(running ${shortStorePath(from.currentSystem)})`);
  }
  return parts.length > 0 ? parts.join(' ') : 'nothing installed';
}

/** `gen 41 1a2b3c4-… → 9f8e7d6-…  switch needed`; a node already on its system shows only where it is. */
export function describeNodePlan(node: NodePlan): string {
  const to = shortStorePath(node.to.system);
  if (!node.from) return `→ ${to}  ${node.reason}`;
  const running = node.from.currentSystem ?? node.from.profileTarget;
  if (!node.activate && running === node.to.system) return `${describeFrom(node.from)}  ${node.reason}`;
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
