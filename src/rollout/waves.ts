// Pure wave planning: which selected nodes activate together, and how many of each wave may fail.
import type { Amount } from '../config/types.js';
import { UsageError } from '../errors.js';
import { selectNodes } from '../select/index.js';

/** One wave of a rollout: its nodes in activation order and how many of them may fail before the wave has failed. */
export interface Wave {
  nodes: string[];
  maxFailures: number;
}

/** What wave planning reads of the rollout options. */
export interface WaveRules {
  waves: readonly Amount[];
  order: readonly string[];
  maxFailures: Amount;
}

/** `{count}` as is; `{percent}` of `total` rounded down, at least 1 (a wave is never empty). */
export function waveSize(entry: Amount, total: number): number {
  return 'count' in entry ? entry.count : Math.max(1, Math.floor((entry.percent * total) / 100));
}

/** A wave's failure budget: a count (never more than the wave), or a percentage of the wave rounded down,
 *  as Ansible's max_fail_percentage: `10%` of 5 nodes is 0, so one failure fails the wave. */
export function failureBudget(budget: Amount, size: number): number {
  return 'count' in budget ? Math.min(budget.count, size) : Math.floor((budget.percent * size) / 100);
}

/** How a wave that has settled ended (events.ts's WaveVerdict, which imports this module's types): over its budget it
 *  failed (also when interrupted: its failures stand). */
export function waveVerdict(failures: number, wave: Pick<Wave, 'maxFailures'>, interrupted: boolean): 'passed' | 'failed' | 'interrupted' {
  return failures > wave.maxFailures ? 'failed' : interrupted ? 'interrupted' : 'passed';
}

/** Nodes (the selected ones, in fleet-file order) → waves. `order` selectors place their matches first, in
 *  selector order; the rest follow in fleet-file order. Sizes are of the selected nodes; the last repeats.
 *  O(nodes × (order selectors + 1)). */
export function planWaves(nodes: readonly { name: string; tags: readonly string[] }[], rules: WaveRules): Wave[] {
  const ordered = orderNodes(nodes, rules.order);
  const waves: Wave[] = [];
  const sizes = rules.waves.length > 0 ? rules.waves : [{ percent: 100 }];
  for (let start = 0, k = 0; start < ordered.length; k++) {
    const size = waveSize(sizes[Math.min(k, sizes.length - 1)]!, ordered.length);
    const members = ordered.slice(start, start + size);
    waves.push({ nodes: members, maxFailures: failureBudget(rules.maxFailures, members.length) });
    start += members.length;
  }
  return waves;
}

function orderNodes(nodes: readonly { name: string; tags: readonly string[] }[], order: readonly string[]): string[] {
  const placed = new Set<string>();
  const ordered: string[] = [];
  for (const selector of order) {
    for (const node of matching(nodes, selector)) {
      if (placed.has(node.name)) continue;
      placed.add(node.name);
      ordered.push(node.name);
    }
  }
  for (const node of nodes) if (!placed.has(node.name)) ordered.push(node.name);
  return ordered;
}

/** A selector that matches none of the SELECTED nodes places nothing: `fleet check` already refused one matching no node at all. */
function matching<T extends { name: string; tags: readonly string[] }>(nodes: readonly T[], selector: string): T[] {
  try {
    return selectNodes(nodes, selector);
  } catch (e) {
    if (e instanceof UsageError) return [];
    throw e;
  }
}
