// `fleet diff --format markdown`, and the pieces `fleet plan --format markdown` shares: per group of alike nodes
// its package changes as a table, nodes that could not be compared called out first, long lists collapsed.
import type { PackageChange } from '../diff/closure.js';
import { formatCounts, formatDelta, formatGroupDelta, packageVersions, type PackageKind } from '../diff/format.js';
import type { DiffGroup } from '../diff/group.js';
import type { Goal } from '../goal.js';
import { firstLine } from './labels.js';
import { countOf } from '../util/text.js';
import { mdBlock, mdCode, mdDetails, mdMarker, mdTable, mdText } from './markdown.js';

/** Names shown inline; a longer list is shown in full, collapsed. */
export const NAMES_SHOWN = 20;
/** Package rows shown open; a longer table is collapsed. */
export const PACKAGE_ROWS_SHOWN = 15;

/** A node that could not be planned or compared, with fleet's message (`node: phase: why`). */
export interface ReportFailure {
  node: string;
  message: string;
}

/** `` `web-1`, `web-2` ``; past NAMES_SHOWN the first ones, then every name collapsed. */
export function mdNodeList(nodes: readonly string[]): string {
  const names = (list: readonly string[]) => list.map(mdCode).join(', ');
  if (nodes.length <= NAMES_SHOWN) return names(nodes);
  return `${names(nodes.slice(0, NAMES_SHOWN))} and ${nodes.length - NAMES_SHOWN} more\n\n${mdDetails(`all ${nodes.length} nodes`, names(nodes))}`;
}

/** `**`web-1`, `web-2`** (2 nodes)`: a group's names as its title. */
function groupNames(nodes: readonly string[]): string {
  const count = nodes.length > 1 ? ` (${countOf(nodes.length, 'node')})` : '';
  if (nodes.length <= NAMES_SHOWN) return `**${mdNodeList(nodes)}**${count}`;
  return `**${mdNodeList(nodes.slice(0, NAMES_SHOWN))} and ${nodes.length - NAMES_SHOWN} more**${count}`;
}

function packageRow(kind: PackageKind, change: PackageChange): string[] {
  return [kind, mdCode(change.name), mdText(packageVersions(kind, change).trim()), mdText(formatDelta(change.sizeDelta))];
}

export function isNoChange(group: DiffGroup): boolean {
  return group.added.length + group.removed.length + group.changed.length === 0 && Object.values(group.systems).every((s) => s.sizeDelta === 0);
}

/** One group: its nodes and counts, then its packages as a table (collapsed past PACKAGE_ROWS_SHOWN rows). */
export function mdGroup(group: DiffGroup, note = ''): string {
  const what = isNoChange(group) ? 'no change' : `${formatCounts(group)}, ${formatGroupDelta(group)}`;
  const head = `${groupNames(group.nodes)}: ${mdText(what)}${note}`;
  const more = group.nodes.length > NAMES_SHOWN ? `\n\n${mdDetails(`all ${group.nodes.length} nodes`, mdNodeList(group.nodes))}` : '';
  const rows = [
    ...group.changed.map((c) => packageRow('changed', c)),
    ...group.added.map((c) => packageRow('added', c)),
    ...group.removed.map((c) => packageRow('removed', c)),
  ];
  if (rows.length === 0) return `${head}${more}`;
  const table = mdTable(['', 'package', 'version', 'size'], rows);
  return `${head}${more}\n\n${rows.length > PACKAGE_ROWS_SHOWN ? mdDetails(`${rows.length} packages`, table) : table}`;
}

/** Nodes that could not be planned or compared: a row each with the first line of the error; every error in
 *  full below, collapsed (a Nix evaluation error runs over many lines). */
export function mdFailures(title: string, failures: readonly ReportFailure[]): string {
  if (failures.length === 0) return '';
  const table = mdTable(['node', 'why'], failures.map((f) => [mdCode(f.node), mdText(firstLine(f.message))]));
  const long = failures.filter((f) => f.message.includes('\n'));
  const full = long.length > 0 ? `\n\n${mdDetails('full errors', long.map((f) => `${mdCode(f.node)}\n\n${mdBlock(f.message)}`).join('\n\n'))}` : '';
  return `**${title}** (${failures.length})\n\n${collapseLong(failures.length, table)}${full}`;
}

/** A table of more than NAMES_SHOWN rows goes into a collapsed section. */
export function collapseLong(rows: number, table: string): string {
  return rows > NAMES_SHOWN ? mdDetails(`${rows} nodes`, table) : table;
}

export interface DiffMarkdownInput {
  /** What identifies this comment for the CI job that updates it (the fleet file, goal and --on). */
  marker: string;
  goal: Goal;
  groups: readonly DiffGroup[];
  failures: readonly ReportFailure[];
}

/** `fleet diff --format markdown`: headline, nodes not compared, then each change set. (diff reads no lock: it
 *  says what would change; `fleet plan` says whether another run is in the way.) */
export function formatDiffMarkdown(input: DiffMarkdownInput): string {
  const changing = input.groups.filter((g) => !isNoChange(g));
  const unchanged = input.groups.filter(isNoChange).flatMap((g) => g.nodes);
  const compared = input.groups.reduce((sum, g) => sum + g.nodes.length, 0);
  const changed = changing.reduce((sum, g) => sum + g.nodes.length, 0);
  const headline = `#### fleet diff (${mdText(input.goal)}): ${compared === 0 ? 'no node compared' : `${changed} of ${countOf(compared, 'node')} change`}`;
  const facts = [
    `${countOf(changing.length, 'distinct change set')}`,
    ...(input.failures.length > 0 ? [`${input.failures.length} could not be compared`] : []),
  ];
  const sections = [
    mdMarker('fleet-diff', input.marker),
    headline,
    facts.join(' · '),
    mdFailures('Could not be compared', input.failures),
    ...changing.map((g) => mdGroup(g)),
    unchanged.length > 0 ? `**No change** (${unchanged.length}): ${mdNodeList(unchanged)}` : '',
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}
