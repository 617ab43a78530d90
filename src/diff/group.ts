// Nodes whose diffs read the same are shown once: a 500-node fleet reads as a few groups.
import { changeKey, type ClosureDiff, type PackageChange } from './closure.js';

/** What one node's diff compared: its current system (absent: nothing installed) and the new one. */
export interface NodeDiff {
  node: string;
  from?: string;
  to: string;
  diff: ClosureDiff;
}

export interface DiffGroup {
  nodes: string[];
  added: PackageChange[];
  removed: PackageChange[];
  changed: PackageChange[];
  /** Per node: the systems compared and their closure sizes (these may differ inside a group). */
  systems: Record<string, { from?: string; to: string; sizeBefore: number; sizeAfter: number; sizeDelta: number }>;
}

/** Sorts per-node results into fleet-file order: their finishing order is the network's, not the reader's. */
export function byFleetOrder(nodes: readonly { name: string }[]): (a: { node: string }, b: { node: string }) => number {
  const order = new Map(nodes.map((n, i) => [n.name, i]));
  return (a, b) => order.get(a.node)! - order.get(b.node)!;
}

/** Groups in the order of their first node; linear in the number of nodes (one Map lookup each). */
export function groupDiffs(diffs: readonly NodeDiff[]): DiffGroup[] {
  const groups = new Map<string, DiffGroup>();
  for (const d of diffs) {
    const key = changeKey(d.diff);
    let group = groups.get(key);
    if (!group) {
      groups.set(key, (group = { nodes: [], added: d.diff.added, removed: d.diff.removed, changed: d.diff.changed, systems: {} }));
    }
    group.nodes.push(d.node);
    const { sizeBefore, sizeAfter } = d.diff;
    group.systems[d.node] = { ...(d.from ? { from: d.from } : {}), to: d.to, sizeBefore, sizeAfter, sizeDelta: sizeAfter - sizeBefore };
  }
  return [...groups.values()];
}
