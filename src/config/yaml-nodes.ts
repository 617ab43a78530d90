// Small helpers over yaml's node tree: merge keys, aliases, key text, ranges.
import { isAlias, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node, Pair } from 'yaml';

/** A parsed document and its line counter (positions → line:col). */
export interface YamlSource {
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

export function isMergePair(pair: Pair): boolean {
  if (!isScalar(pair.key)) return false;
  const v = pair.key.value;
  // Only a plain `<<` merges: a quoted "<<" is an ordinary key, as yaml's toJS treats it.
  return (v === '<<' && (pair.key.type === undefined || pair.key.type === 'PLAIN')) || (typeof v === 'symbol' && v.description === '<<');
}

export function mergeSources(source: YamlSource, pair: Pair): unknown[] {
  const value = resolve(source, pair.value);
  return isSeq(value) ? value.items.map((item) => resolve(source, item)) : [value];
}

export function resolve(source: YamlSource, node: unknown): unknown {
  return isAlias(node) ? node.resolve(source.doc) : node;
}

export function keyText(pair: Pair): string | undefined {
  if (isMergePair(pair)) return undefined;
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

export function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}
