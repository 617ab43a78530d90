// Evaluate a selector against the fleet: unions, then intersections, then exclusions, in O(nodes + tags) per term.
import { UsageError } from '../errors.js';
import { describeEmptyExclusion, describeEmptyIntersection, describeNoMatch } from './messages.js';
import { parseSelector, type Selector, type Term } from './parse.js';

interface NodeIndex {
  names: string[];
  byName: Map<string, number>;
  byTag: Map<string, number[]>;
  tags: string[]; // sorted, for messages and tag globs
}

/** The nodes `selector` picks, in input order; no selector means every node. Never silently empty. */
export function selectNodes<T extends { name: string; tags: readonly string[] }>(
  nodes: readonly T[],
  selector: string | Selector | undefined,
): T[] {
  if (selector === undefined) return [...nodes];
  const parsed = typeof selector === 'string' ? parseSelector(selector) : selector;
  const index = indexNodes(nodes);
  const matches = matchTerms(parsed.terms, index);
  const selected = combineMatches(parsed, matches, index);
  return nodes.filter((_, i) => selected[i] === 1);
}

/** One pass over nodes and tags, so each term is a map lookup or one scan. */
function indexNodes(nodes: readonly { name: string; tags: readonly string[] }[]): NodeIndex {
  const byName = new Map<string, number>();
  const byTag = new Map<string, number[]>();
  nodes.forEach((node, i) => {
    byName.set(node.name, i);
    for (const tag of node.tags) {
      const list = byTag.get(tag);
      if (list === undefined) byTag.set(tag, [i]);
      else if (list[list.length - 1] !== i) list.push(i); // a tag listed twice on one node
    }
  });
  return { names: nodes.map((n) => n.name), byName, byTag, tags: [...byTag.keys()].sort() };
}

/** Each term's node indexes; every term that matches nothing is reported, all at once. */
function matchTerms(terms: readonly Term[], index: NodeIndex): Map<Term, number[]> {
  const matches = new Map<Term, number[]>();
  const problems: string[] = [];
  for (const term of terms) {
    const found = matchTerm(term, index);
    if (found.length === 0) problems.push(describeNoMatch(term, index.names, index.tags));
    matches.set(term, found);
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return matches;
}

function matchTerm(term: Term, index: NodeIndex): number[] {
  const { glob } = term;
  if (term.kind === 'name') {
    if (glob === undefined) {
      const i = index.byName.get(term.pattern);
      return i === undefined ? [] : [i];
    }
    return index.names.flatMap((name, i) => (glob.test(name) ? [i] : []));
  }
  if (glob === undefined) return index.byTag.get(term.pattern) ?? [];
  return index.tags.filter((tag) => glob.test(tag)).flatMap((tag) => index.byTag.get(tag) ?? []);
}

/** A 0/1 mask over nodes; throws, naming the culprit term, when an `&` or `!` empties it. */
function combineMatches(selector: Selector, matches: Map<Term, number[]>, index: NodeIndex): Uint8Array {
  const n = index.names.length;
  const byOp = (op: Term['op']) => selector.terms.filter((t) => t.op === op);
  const unions = byOp('union');
  const selected = new Uint8Array(n).fill(unions.length === 0 ? 1 : 0);
  for (const term of unions) for (const i of matches.get(term)!) selected[i] = 1;
  let count = selected.reduce((sum, bit) => sum + bit, 0);
  const applied = [...unions];
  for (const term of byOp('intersect')) {
    const keep = new Uint8Array(n);
    for (const i of matches.get(term)!) keep[i] = 1;
    const before = count;
    count = 0;
    for (let i = 0; i < n; i++) count += selected[i]! &= keep[i]!;
    if (count === 0) throw new UsageError(describeEmptyIntersection(selector.text, term, applied, before));
    applied.push(term);
  }
  for (const term of byOp('exclude')) {
    const removed: string[] = [];
    for (const i of matches.get(term)!) {
      if (selected[i] === 0) continue;
      selected[i] = 0;
      removed.push(index.names[i]!);
    }
    count -= removed.length;
    if (count === 0) throw new UsageError(describeEmptyExclusion(selector.text, term, applied, sortByIndex(removed, index)));
    applied.push(term);
  }
  return selected;
}

/** Removed names in fleet order, not match order, so messages read like the fleet file. */
function sortByIndex(names: string[], index: NodeIndex): string[] {
  return names.sort((a, b) => index.byName.get(a)! - index.byName.get(b)!);
}
