// Each screen of `apply -i` as lines: a pure function of the run view and the UI's own state (selection,
// panes, prompts). The app only windows them to the terminal and reads keys.
import type { PackageChange } from '../../../diff/closure.js';
import { formatBytes, formatDelta, packageVersions, type PackageKind } from '../../../diff/format.js';
import type { NodePlan } from '../../../plan/types.js';
import { describeHealth } from '../../labels.js';
import { countOf } from '../../../util/text.js';
import { describePlan } from '../../plan-text.js';
import { formatReport } from '../../report.js';
import { forTerminal } from '../../../util/terminal-text.js';
import { nodeOf, type NodeView, type RunView } from '../../view.js';
import { describeProgress, isScaled } from '../../scale.js';
import { line, piece, type Line } from './lines.js';
import {
  buildTone, currentWave, diffSummary, describeBuild, describeCopy, describeDiff, describeFromTo, describeLock, describeNodeState, describeWave,
  errorText, formatElapsed, isBusy, nodeElapsed, nodeGroups, outcomeTone, waveTone,
} from './words.js';

/** What the person has asked for and the UI shows until the run answers. */
export interface UiState {
  selected?: string;
  logPane: boolean;
  askAbort: boolean;
  /** p was pressed and the run has not paused yet. */
  pauseAsked: boolean;
  aborting: boolean;
  /** n while paused: later waves end held. */
  stopping: boolean;
  /** y or n at the review, until the run says so. */
  decided?: 'approve' | 'decline';
  /** Enter: the selected node's full diff, scrolled by this many lines. */
  detail?: { scroll: number };
  /** `/`: only the nodes whose name or state contains this (any case); `filtering` while it is typed. */
  filter?: string;
  filtering?: boolean;
}

export interface Screen {
  header: Line[];
  /** The part that scrolls; `focus` (lines) stays in view. */
  body: Line[];
  focus?: { start: number; end: number };
  footer: Line[];
  /** Long lines wrap instead of being cut (the result: an error names the commands to run by hand). */
  wrap?: boolean;
}

export const initialUiState: UiState = { logPane: false, askAbort: false, pauseAsked: false, aborting: false, stopping: false };

/** A node the filter lets through: its name or its state in words contains the filter's text, in any case. */
export function matchesFilter(node: NodeView, filter: string | undefined, planned: boolean): boolean {
  if (!filter) return true;
  const text = filter.toLowerCase();
  return node.name.toLowerCase().includes(text) || describeNodeState(node, planned).toLowerCase().includes(text);
}

/** The groups the screens list: every node, or those the filter lets through (groups left empty are left out). */
export function visibleGroups(view: RunView, ui: Pick<UiState, 'filter'>): ReturnType<typeof nodeGroups> {
  const groups = nodeGroups(view);
  if (!ui.filter) return groups;
  const planned = view.plan !== undefined;
  return groups.map((g) => ({ ...g, nodes: g.nodes.filter((n) => matchesFilter(n, ui.filter, planned)) })).filter((g) => g.nodes.length > 0);
}

/** The nodes in the order the screens list them, as filtered (the arrow keys walk this). */
export function nodeOrder(view: RunView, ui: Pick<UiState, 'filter'> = {}): string[] {
  return visibleGroups(view, ui).flatMap((g) => g.nodes.map((n) => n.name));
}

/** The selected node; one the filter hides gives way to the first it shows. */
export function selectedNode(view: RunView, ui: UiState): NodeView | undefined {
  const order = ui.filter ? nodeOrder(view, ui) : undefined;
  const name = ui.selected !== undefined && (!order || order.includes(ui.selected)) ? ui.selected : (order ?? nodeOrder(view))[0];
  return name === undefined ? undefined : nodeOf(view, name);
}

/** While a filter is typed or set: what it is, how many nodes it shows, how to leave it. */
function filterLines(view: RunView, ui: UiState): Line[] {
  if (!ui.filtering && !ui.filter) return [];
  const shown = ui.filter ? nodeOrder(view, ui).length : view.nodes.length;
  return [line(
    piece('filter ', 'key'), piece(`/${ui.filter ?? ''}`, undefined, { bold: true }), piece(ui.filtering ? '▏' : '', 'key'),
    piece(`  ${shown} of ${countOf(view.nodes.length, 'node')}  `, 'quiet'),
    piece(ui.filtering ? 'Enter' : '/', 'key'), piece(ui.filtering ? ' keep  ' : ' change  ', 'quiet'), piece('Esc', 'key'), piece(' clear', 'quiet'),
  )];
}

/** A large fleet: the counts per outcome and phase above the list (scrolled, the list shows a screen of it). */
function countLines(view: RunView): Line[] {
  return isScaled(view.nodes.length) ? [line(piece(describeProgress(view), 'quiet'))] : [];
}

function title(view: RunView): string {
  return `fleet ${view.command ?? 'apply'}${view.goal ? ` ${view.goal}` : ''}`;
}

const planned = (view: RunView): Map<string, NodePlan> => new Map((view.plan?.nodes ?? []).map((n) => [n.name, n]));

/** Before the plan: what is being evaluated and which targets are asked. */
export function prepareScreen(view: RunView, now: number, ui: UiState = initialUiState): Screen {
  const evaluating = view.nodes.filter((n) => !n.phase || n.phase === 'evaluate').length;
  const asking = view.nodes.filter((n) => n.phase === 'query' || n.phase === 'connect').length;
  const what = [evaluating > 0 ? `evaluating ${countOf(evaluating, 'node')}` : '', asking > 0 ? `asking ${countOf(asking, 'target')}` : ''].filter(Boolean);
  const body = view.nodes.filter((n) => matchesFilter(n, ui.filter, false)).map((n) => line(
    piece(`  ${n.name}  `), piece(describeNodeState(n), outcomeTone(n.outcome)), piece(`  ${nodeElapsed(n, now)}`, 'quiet'),
    ...(n.error ? [piece(`  ${errorText(n.error)}`, 'bad')] : []),
  ));
  return {
    header: [line(piece(title(view), 'head'), piece(` · ${countOf(view.nodes.length, 'node')}`)), line(piece(what.join(' · ') || 'planning…', 'busy')), ...filterLines(view, ui)],
    body,
    footer: [],
  };
}

const marker = (on: boolean) => piece(on ? '▸ ' : '  ', 'key');

/** The plan waits: per wave its nodes with from → to, build host, copy route, locks, and the diff summary. */
export function reviewScreen(view: RunView, ui: UiState, now: number, rows: number): Screen {
  const plans = planned(view);
  const selected = selectedNode(view, ui)?.name;
  const body: Line[] = [];
  let focus: Screen['focus'];
  const width = Math.max(4, ...view.nodes.map((n) => n.name.length));
  for (const group of visibleGroups(view, ui)) {
    if (group.wave) body.push(line(piece(`wave ${group.wave.wave}`, 'head'), piece(` · ${countOf(group.wave.nodes.length, 'node')} · may fail ${group.wave.maxFailures ?? 0}`, 'quiet')));
    else if (view.waves.length > 0) body.push(line(piece('not in a wave', 'head')));
    for (const n of group.nodes) {
      const np = plans.get(n.name);
      const start = body.length;
      const on = n.name === selected;
      body.push(line(
        marker(on), piece(n.name.padEnd(width), undefined, { bold: on }), piece(`  ${describeFromTo(n, np)}`),
        piece(`  ${forTerminal(n.reason ?? np?.reason ?? '')}`, n.activate ? 'busy' : 'quiet'),
      ));
      const diff = describeDiff(view, n);
      body.push(line(
        piece(`    ${''.padEnd(width)}`),
        piece(n.build !== undefined ? `build on ${n.build}` : 'no build', 'quiet'),
        piece(` · ${np ? describeCopy(np.copy) : 'no plan'} · `, 'quiet'),
        piece(`diff: ${diff}`, n.diff ? 'good' : diff.startsWith('no diff') ? 'bad' : 'quiet'),
      ));
      const lock = describeLock(np?.lock);
      if (lock) body.push(line(piece(`    ${''.padEnd(width)}`), piece(lock, np?.lock?.state === 'held' && !np.lock.expired ? 'warn' : 'quiet')));
      if (on) focus = { start, end: body.length };
    }
  }
  const help = line(
    piece('↑↓', 'key'), ' select  ', piece('/', 'key'), ' filter  ', piece('Enter', 'key'), ' full diff  ', piece('y', 'key'), ' deploy  ',
    piece('n/q', 'key'), ' leave, nothing touched  ', piece('l', 'key'), ' log  ', piece('Ctrl+C', 'key'), ' abort',
  );
  const decided = ui.aborting ? line(piece('aborting: leaving with nothing touched…', 'warn')) : ui.decided === 'approve' ? line(piece('deploying…', 'busy')) : ui.decided === 'decline' ? line(piece('declined: leaving with nothing touched…', 'warn')) : help;
  return {
    header: [
      line(piece(title(view), 'head'), piece(' · review the plan: '), piece(view.plan ? describePlan(view.plan) : '')),
      line(piece(`${countOf(view.nodes.filter((n) => n.diff).length, 'diff')} of ${view.nodes.filter((n) => n.activate).length} ready`, 'quiet'), piece(` · ${formatElapsed(view.startedAt ?? new Date(now).toISOString(), now)}`, 'quiet')),
      ...filterLines(view, ui),
    ],
    body,
    ...(focus ? { focus } : {}),
    footer: [...buildLines(view, now, rows), ...logPane(view, ui, rows), decided],
  };
}

/** During the rollout: waves and their nodes, phases and times, builds, the selected node's log, prompts. */
export function rolloutScreen(view: RunView, ui: UiState, now: number, rows: number): Screen {
  const selected = selectedNode(view, ui)?.name;
  const body: Line[] = [];
  let focus: Screen['focus'];
  const width = Math.max(4, ...view.nodes.map((n) => n.name.length));
  const waves = view.waves.length;
  for (const group of visibleGroups(view, ui)) {
    const w = group.wave;
    if (w) {
      const took = w.startedAt ? `  ${formatElapsed(w.startedAt, w.endedAt ? Date.parse(w.endedAt) : now)}` : '';
      body.push(line(piece(`wave ${w.wave} of ${waves}`, 'head'), piece(`  ${describeWave(w, view)}`, waveTone(w, view), { bold: true }), piece(`${took} · ${countOf(w.nodes.length, 'node')}`, 'quiet')));
    } else if (waves > 0) body.push(line(piece('not in a wave', 'head')));
    for (const n of group.nodes) {
      const on = n.name === selected;
      if (on) focus = { start: body.length, end: body.length + 1 };
      const busy = isBusy(n, true);
      const said = n.outcome ? errorText(n.error) : !busy ? '' : n.health && n.phase === 'health' ? forTerminal(describeHealth(n.health)) : forTerminal(n.detail ?? '');
      body.push(line(
        marker(on), piece(n.name.padEnd(width), undefined, { bold: on }),
        piece(`  ${describeNodeState(n, true).padEnd(16)}`, busy || n.outcome ? outcomeTone(n.outcome) : 'quiet', { bold: n.outcome === 'rollback-failed' }),
        piece(`${nodeElapsed(n, now, true).padStart(6)}`, 'quiet'),
        ...(said ? [piece(`  ${said}`, n.outcome && outcomeTone(n.outcome) === 'bad' ? 'bad' : 'quiet')] : []),
      ));
    }
  }
  const done = view.nodes.filter((n) => n.outcome).length;
  const header = [line(
    piece(title(view), 'head'), piece(` · ${done} of ${countOf(view.nodes.length, 'node')} done`),
    piece(` · ${formatElapsed(view.startedAt ?? new Date(now).toISOString(), now)}`, 'quiet'),
  ), ...countLines(view), ...filterLines(view, ui)];
  return { header, body, ...(focus ? { focus } : {}), footer: [...buildLines(view, now, rows), ...logPane(view, ui, rows), ...rolloutPrompt(view, ui)] };
}

/** The line that says what the run waits for, and the keys. */
function rolloutPrompt(view: RunView, ui: UiState): Line[] {
  if (ui.askAbort) return [line(piece('abort? nothing new starts; running activations finish or roll back  ', 'warn', { bold: true }), piece('y', 'key'), ' abort  ', piece('n', 'key'), ' go on')];
  if (ui.aborting) return [line(piece('aborting: nothing new starts; running activations finish or roll back…', 'warn'))];
  if (view.review === 'declined') return [line(piece('declined: leaving with nothing touched…', 'warn'))];
  if (ui.stopping) return [line(piece('stopping here: the waves not started end held…', 'warn'))];
  const keys = (...ks: [string, string][]) => ks.flatMap(([k, what]) => [piece(k, 'key'), piece(` ${what}  `)]);
  if (view.paused) {
    const k = view.paused.wave;
    const why = view.paused.reason === 'confirm' ? `wave ${k - 1} passed; start wave ${k}?` : `paused before wave ${k}`;
    return [line(piece(why, 'warn', { bold: true }), piece('  '), ...keys(['r/y', 'go on'], ['n', 'stop here (later waves held)'], ['a', 'abort']))];
  }
  // A pause asked for during a wave that failed never comes: the run holds the rest itself.
  const pausing = ui.pauseAsked && canPause(view);
  const status = pausing ? [piece(`pausing after wave ${currentWave(view) ?? 1}  `, 'warn')] : [];
  const pause: [string, string][] = canPause(view) ? (pausing ? [['r', 'resume']] : [['p', 'pause after this wave']]) : [];
  return [line(...status, ...keys(['↑↓', 'select'], ['/', 'filter'], ['l', 'log'], ...pause, ['a', 'abort']))];
}

/** A pause can still come: a wave is yet to start and none has failed (the run then holds the rest itself). */
export function canPause(view: RunView): boolean {
  return view.waves.some((w) => w.state === 'planned') && !view.waves.some((w) => w.verdict === 'failed' || w.verdict === 'interrupted');
}

/** Build jobs per build host; at most a quarter of the screen (the running and failed ones first). */
function buildLines(view: RunView, now: number, rows: number): Line[] {
  if (view.builds.length === 0) return [];
  const room = Math.max(1, Math.floor(rows / 4));
  const order = [...view.builds].sort((a, b) => rank(a) - rank(b));
  const shown = order.slice(0, room);
  const lines = [line(piece('builds', 'head'))];
  for (const b of shown) lines.push(line(piece('  '), piece(describeBuild(b, now), buildTone(b))));
  if (order.length > shown.length) lines.push(line(piece(`  and ${order.length - shown.length} more`, 'quiet')));
  return lines;
}

const rank = (b: RunView['builds'][number]) => (b.ok === false ? 0 : b.state === 'running' ? 1 : b.state === 'planned' ? 2 : 3);

/** `l`: the selected node's output (its log, or the failed step's tail) and error, at most a third of the screen. */
function logPane(view: RunView, ui: UiState, rows: number): Line[] {
  if (!ui.logPane) return [];
  const node = selectedNode(view, ui);
  if (!node) return [];
  const room = Math.max(2, Math.floor(rows / 3));
  const lines: Line[] = [line(piece(`log of ${node.name}`, 'head'), piece(node.logTotal > node.log.length ? ` (last ${node.log.length} of ${node.logTotal} lines)` : '', 'quiet'))];
  const tail = node.log.slice(-(room - (node.error ? 2 : 1)));
  if (tail.length === 0) lines.push(line(piece('  (no output yet)', 'quiet')));
  for (const l of tail) lines.push(line(piece(`  ${forTerminal(l)}`)));
  if (node.error) lines.push(line(piece(`  error: ${errorText(node.error)}`, 'bad')));
  return lines;
}

function packageLine(kind: PackageKind, c: PackageChange): Line {
  const tone = kind === 'added' ? 'good' : kind === 'removed' ? 'bad' : 'busy';
  return line(piece(`  ${kind.padEnd(7)}`, tone), piece(`  ${c.name}${packageVersions(kind, c)}`), piece(` (${formatDelta(c.sizeDelta)})`, 'quiet'));
}

/** Enter: one node's full diff, every package added, removed and changed. */
export function detailScreen(view: RunView, ui: UiState): Screen {
  const node = selectedNode(view, ui);
  const diff = node?.diff;
  const head = line(piece(`${node?.name ?? ''}: `, 'head'), piece(node ? describeFromTo(node, planned(view).get(node.name)) : ''));
  if (!node || !diff) return { header: [head], body: [line(piece('no diff for this node (yet)', 'quiet'))], footer: [backHelp] };
  const body = [
    ...diff.changed.map((c) => packageLine('changed', c)),
    ...diff.added.map((c) => packageLine('added', c)),
    ...diff.removed.map((c) => packageLine('removed', c)),
  ];
  const scroll = Math.max(0, Math.min(ui.detail?.scroll ?? 0, body.length - 1));
  return {
    header: [head, line(piece(diffSummary(diff), 'good'), piece(`  (closure ${formatBytes(diff.sizeBefore)} → ${formatBytes(diff.sizeAfter)})`, 'quiet'))],
    body: body.length > 0 ? body : [line(piece('  no package changes', 'quiet'))],
    focus: { start: scroll, end: scroll + 1 },
    footer: [backHelp],
  };
}

const backHelp = line(piece('↑↓', 'key'), ' scroll  ', piece('Esc/Enter/q', 'key'), ' back  ', piece('Ctrl+C', 'key'), ' abort');

/** The run is over: the non-interactive run's report (failure tails, table, counts, exit code). */
export function resultScreen(view: RunView): Screen {
  const text = formatReport(view).replace(/^\n/, '').replace(/\n$/, '');
  const body = text.split('\n').map((l): Line => {
    if (l.startsWith('ATTENTION')) return line(piece(l, 'bad', { bold: true }));
    if (l.startsWith('── ')) return line(piece(l, 'bad'));
    return line(piece(l));
  });
  return { header: [], body, focus: { start: body.length - 1, end: body.length }, footer: [], wrap: true };
}
