// Maps a data path (from ajv or a semantic check) back to line:col, following aliases and `<<` merges.
import { isMap, isScalar, isSeq } from 'yaml';
import type { Pair } from 'yaml';
import { isMergePair, keyText, mergeSources, rangeStart, resolve } from './yaml-nodes.js';
import type { Path } from './yaml-source.js';
import type { YamlSource } from './yaml-nodes.js';

/** The pair for `key` in a mapping: its own keys first (the last duplicate wins, as in toJS), then `<<` sources in order. */
function findPair(source: YamlSource, map: unknown, key: string): Pair | undefined {
  if (!isMap(map)) return undefined;
  const own = map.items.filter((p) => keyText(p) === key).at(-1);
  if (own) return own as Pair;
  for (const pair of map.items.filter(isMergePair)) {
    for (const from of mergeSources(source, pair as Pair)) {
      const hit = findPair(source, from, key);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** line:col of the key (`at: 'key'`) or value at `path`; the nearest existing ancestor when the path runs out. */
export function locate(source: YamlSource, path: Path, at: 'key' | 'value'): { line: number; col: number } {
  let node: unknown = source.doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, segment] of path.entries()) {
    const container = resolve(source, node);
    let keyOffset: number | undefined;
    if (typeof segment === 'number' && isSeq(container)) {
      node = container.items[segment];
    } else {
      const pair = findPair(source, container, String(segment));
      keyOffset = rangeStart(pair?.key);
      node = pair?.value;
    }
    if (node === undefined && keyOffset === undefined) break;
    const last = i === path.length - 1;
    const valueOffset = isEmpty(node) ? undefined : rangeStart(node);
    offset = (last && at === 'key' ? keyOffset : valueOffset) ?? keyOffset ?? valueOffset ?? offset;
  }
  return source.lineCounter.linePos(offset);
}

/** `key:` with nothing after it: point at the key, not at the end of the line. */
function isEmpty(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null && !node.source);
}
