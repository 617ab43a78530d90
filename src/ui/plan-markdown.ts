// `fleet plan --format markdown`: the plan as a pull-request comment. Headline and counts first, then what a
// reviewer must act on (nodes not planned, locked), the changes per group of alike nodes, what stays; the
// builds, every node's from → to and the waves collapsed below.
import type { DiffGroup } from '../diff/group.js';
import { changingNodes, isLocked } from '../plan/changes.js';
import { describeCopy, describeFrom, shortStorePath } from '../plan/format.js';
import { lockedReason } from '../lock/text.js';
import type { NodePlan, Plan } from '../plan/types.js';
import { collapseLong, mdFailures, mdGroup, mdNodeList, NAMES_SHOWN, type ReportFailure } from './diff-markdown.js';
import { countOf } from '../util/text.js';
import { mdCode, mdDetails, mdMarker, mdTable, mdText } from './markdown.js';
import { describePlan } from './plan-text.js';

export interface PlanMarkdownInput {
  /** What identifies this comment for the CI job that updates it (the fleet file, goal and --on). */
  marker: string;
  plan: Plan;
  /** Closure diffs of the nodes whose new system is already built, grouped (fleet plan builds nothing). */
  groups: readonly DiffGroup[];
  /** Per changing node: its one-line diff, or why there is none (not built yet). */
  notes: Readonly<Record<string, string>>;
  /** Nodes that could not be evaluated or asked. */
  failures: readonly ReportFailure[];
}

/** Nodes another live run holds: apply leaves them alone, so a reviewer must know. */
function mdLocked(nodes: readonly NodePlan[]): string {
  if (nodes.length === 0) return '';
  const table = mdTable(['node', 'lock'], nodes.map((n) => [mdCode(n.name), mdText(lockedReason(n.lock!))]));
  return `**Locked** (${nodes.length}): another run is deploying them; apply leaves them alone\n\n${collapseLong(nodes.length, table)}`;
}

/** Nodes alike in what happens to them (reason and diff note), in plan order. */
function groupBy(nodes: readonly NodePlan[], key: (n: NodePlan) => string): NodePlan[][] {
  const groups = new Map<string, NodePlan[]>();
  for (const n of nodes) {
    const k = key(n);
    groups.set(k, [...(groups.get(k) ?? []), n]);
  }
  return [...groups.values()];
}

/** Names in a table cell: no collapsed section fits there, so the first NAMES_SHOWN and a count. */
function cellNames(nodes: readonly string[]): string {
  const shown = nodes.slice(0, NAMES_SHOWN).map(mdCode).join(', ');
  return nodes.length > NAMES_SHOWN ? `${shown} and ${nodes.length - NAMES_SHOWN} more` : shown;
}

function reasons(nodes: readonly NodePlan[]): string {
  return [...new Set(nodes.map((n) => n.reason))].join('; ');
}

/** The changing nodes: groups with a closure diff as tables, the others by reason and note. */
function changes(changing: readonly NodePlan[], input: PlanMarkdownInput): string[] {
  const byName = new Map(changing.map((n) => [n.name, n]));
  const diffed = new Set<string>();
  const sections: string[] = [];
  for (const group of input.groups) {
    const nodes = group.nodes.map((name) => byName.get(name)).filter((n): n is NodePlan => !!n);
    if (nodes.length === 0) continue;
    for (const n of nodes) diffed.add(n.name);
    // Only the group's changing nodes (a locked one is listed above), and only their sizes in the delta.
    const names = nodes.map((n) => n.name);
    const systems = Object.fromEntries(names.map((name) => [name, group.systems[name]!]));
    sections.push(mdGroup({ ...group, nodes: names, systems }, ` · ${mdText(reasons(nodes))}`));
  }
  const rest = changing.filter((n) => !diffed.has(n.name));
  for (const nodes of groupBy(rest, (n) => `${n.reason}\n${input.notes[n.name] ?? ''}`)) {
    const note = input.notes[nodes[0]!.name];
    const count = nodes.length > 1 ? ` (${countOf(nodes.length, 'node')})` : '';
    sections.push(`${mdNodeList(nodes.map((n) => n.name))}${count}: ${mdText(nodes[0]!.reason)}${note !== undefined ? ` · diff: ${mdText(note)}` : ''}`);
  }
  return sections;
}

function builds(plan: Plan): string {
  if (plan.builds.length === 0) return '';
  const drvs = plan.builds.reduce((sum, j) => sum + j.drvPaths.length, 0);
  const body = plan.builds.map((job) => [
    `- on ${mdCode(job.id)}: ${countOf(job.drvPaths.length, 'derivation')} for ${countOf(job.nodes.length, 'node')}`,
    ...job.drvPaths.map((drv) => `  - ${mdCode(drv)}`),
  ].join('\n')).join('\n');
  return mdDetails(`Builds: ${countOf(drvs, 'derivation')} on ${countOf(plan.builds.length, 'build host')}`, body);
}

function nodeTable(plan: Plan): string {
  if (plan.nodes.length === 0) return '';
  const rows = plan.nodes.map((n) => [
    mdCode(n.name), mdText(n.reason), mdText(n.from ? describeFrom(n.from) : 'not asked'), mdCode(shortStorePath(n.to.system)), mdText(describeCopy(n)),
  ]);
  return mdDetails(`Nodes: from → to (${plan.nodes.length})`, mdTable(['node', 'action', 'now', 'new', 'copy'], rows));
}

function waves(plan: Plan): string {
  if (!plan.waves) return '';
  const rows = plan.waves.map((w, i) => [String(i + 1), cellNames(w.nodes), String(w.maxFailures)]);
  return mdDetails(`Waves (${plan.waves.length})`, mdTable(['wave', 'nodes', 'may fail'], rows));
}

export function formatPlanMarkdown(input: PlanMarkdownInput): string {
  const { plan } = input;
  const changing = changingNodes(plan);
  const locked = plan.nodes.filter(isLocked);
  const staying = plan.nodes.filter((n) => !changing.includes(n) && !isLocked(n));
  const selected = plan.nodes.length + input.failures.length;
  const headline = `#### fleet plan (${mdText(plan.goal)}): ${changing.length === 0 ? 'no change' : `${changing.length} of ${countOf(selected, 'node')} change`}`;
  const facts = [
    describePlan(plan),
    ...(locked.length > 0 ? [`${locked.length} locked`] : []),
    ...(input.failures.length > 0 ? [`${input.failures.length} could not be planned`] : []),
  ];
  const unchanged = groupBy(staying, (n) => n.reason).map((nodes) => `**No change** (${nodes.length}): ${mdNodeList(nodes.map((n) => n.name))} · ${mdText(nodes[0]!.reason)}`);
  const sections = [
    mdMarker('fleet-plan', input.marker),
    headline,
    mdText(facts.join(' · ')),
    mdFailures('Could not be planned', input.failures),
    mdLocked(locked),
    ...changes(changing.filter((n) => !isLocked(n)), input),
    ...unchanged,
    builds(plan),
    nodeTable(plan),
    waves(plan),
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}
