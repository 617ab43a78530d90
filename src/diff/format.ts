// Diffs as text: per group its nodes, then one line per added, removed or changed package; sizes in IEC units.
import type { ClosureDiff, PackageChange } from './closure.js';
import type { DiffGroup } from './group.js';
import { countOf } from '../util/text.js';

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** 512 B, 4.0 KiB, 12.3 MiB… (one decimal from KiB on). */
export function formatBytes(bytes: number): string {
  let value = Math.abs(bytes);
  if (value < 1024) return `${value} B`;
  let unit = -1;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]!}`;
}

/** +12.3 MiB, -4.0 KiB, 0 B. */
export function formatDelta(bytes: number): string {
  if (bytes === 0) return '0 B';
  return `${bytes > 0 ? '+' : '-'}${formatBytes(bytes)}`;
}

/** Nix's notation: ∅ for no version on that side, ε for an empty version. */
export function formatVersions(versions: readonly string[]): string {
  return versions.length === 0 ? '∅' : versions.map((v) => (v === '' ? 'ε' : v)).join(', ');
}

/** `3 changed, 1 added, 2 removed`, zero counts left out; `no package changes` when all are zero. */
export function formatCounts(diff: Pick<ClosureDiff, 'added' | 'removed' | 'changed'>): string {
  const parts = [[diff.changed, 'changed'], [diff.added, 'added'], [diff.removed, 'removed']] as const;
  const said = parts.filter(([list]) => list.length > 0).map(([list, word]) => `${list.length} ${word}`);
  return said.length > 0 ? said.join(', ') : 'no package changes';
}

/** One node's diff in a line (what `fleet plan` prints): `3 changed, 1 added, +12.3 MiB`, or `no change`. */
export function formatNodeSummary(diff: ClosureDiff): string {
  const delta = diff.sizeAfter - diff.sizeBefore;
  if (delta === 0 && diff.added.length + diff.removed.length + diff.changed.length === 0) return 'no change';
  return `${formatCounts(diff)}, ${formatDelta(delta)}`;
}

/** A group's size delta: one value, or the range its nodes span. */
export function formatGroupDelta(group: DiffGroup): string {
  const deltas = Object.values(group.systems).map((s) => s.sizeDelta);
  const min = Math.min(...deltas);
  const max = Math.max(...deltas);
  return min === max ? formatDelta(min) : `${formatDelta(min)} to ${formatDelta(max)}`;
}

export const MAX_NAMES = 20;

/** `web-1, web-2` or, for big groups, the first MAX_NAMES names and how many more. */
export function formatNodeNames(nodes: readonly string[]): string {
  if (nodes.length <= MAX_NAMES) return nodes.join(', ');
  return `${nodes.slice(0, MAX_NAMES).join(', ')} and ${nodes.length - MAX_NAMES} more (--json lists them all)`;
}

export type PackageKind = 'added' | 'removed' | 'changed';

/** What follows a package's name in its line: ` 1.0`, ` 2.10 → 2.12`, or '' (the line of `fleet diff` and `apply -i`). */
export function packageVersions(kind: PackageKind, change: PackageChange): string {
  // An unversioned name added or removed reads best bare; a same-version change is a size change only.
  if (kind !== 'changed') {
    const one = kind === 'added' ? change.after : change.before;
    return one.every((v) => v === '') ? '' : ` ${formatVersions(one)}`;
  }
  return change.before.length + change.after.length === 0 ? '' : ` ${formatVersions(change.before)} → ${formatVersions(change.after)}`;
}

function packageLine(kind: PackageKind, change: PackageChange): string {
  return `  ${kind.padEnd(7)}  ${change.name}${packageVersions(kind, change)} (${formatDelta(change.sizeDelta)})`;
}

export function formatGroup(group: DiffGroup): string {
  const count = group.nodes.length;
  const unchanged = group.added.length + group.removed.length + group.changed.length === 0 && Object.values(group.systems).every((s) => s.sizeDelta === 0);
  const header = `${formatNodeNames(group.nodes)}${count > 1 ? ` (${count} nodes)` : ''}: ${unchanged ? 'no change' : `${formatCounts(group)}, ${formatGroupDelta(group)}`}`;
  return [
    header,
    ...group.changed.map((c) => packageLine('changed', c)),
    ...group.added.map((c) => packageLine('added', c)),
    ...group.removed.map((c) => packageLine('removed', c)),
  ].join('\n');
}

/** `fleet diff` without --json: every group, then how many nodes in how many groups. */
export function formatDiffReport(groups: readonly DiffGroup[]): string {
  const nodes = groups.reduce((sum, g) => sum + g.nodes.length, 0);
  return [...groups.map(formatGroup), `${countOf(nodes, 'node')} compared, ${countOf(groups.length, 'distinct change set')}`].join('\n\n');
}
