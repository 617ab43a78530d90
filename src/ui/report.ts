// The end-of-run report both line and listr renderers print: failure log tails, a table, counts.
import { FAILED_OUTCOMES, type Outcome } from '../events.js';
import { describeEvalDone } from './eval-text.js';
import { firstLine } from './labels.js';
import { isScaled, OUTCOME_ORDER } from './scale.js';
import { countOf } from '../util/text.js';
import { forTerminal } from '../util/terminal-text.js';
import type { BuildView, NodeView, RunView } from './view.js';

const tailLength = 20;
// A node with no outcome at the end (the run was cut short) is shown like a failure; a held node has no log to show.
const failures: ReadonlySet<Outcome | undefined> = new Set([...FAILED_OUTCOMES.filter((o) => o !== 'held'), undefined]);
const outcomeOrder: readonly (Outcome | 'unknown')[] = [...OUTCOME_ORDER, 'unknown'];

/** The whole report as text (ends with a newline), or '' when the run never started. */
export function formatReport(view: RunView): string {
  if (view.nodes.length === 0 && view.builds.length === 0) return '';
  const sections = [formatLogTails(view), formatTable(view), formatCounts(view)].filter((s) => s !== '');
  return `\n${sections.join('\n\n')}\n`;
}

/** An error as one terminal-safe line. */
function errorLine(error: string | undefined): string {
  return error ? forTerminal(firstLine(error)) : '';
}

function formatLogTails(view: RunView): string {
  const parts: string[] = [];
  for (const build of view.builds.filter((b) => b.ok === false)) parts.push(formatTail(`build on ${build.id} failed`, build));
  for (const node of view.nodes) if (failures.has(node.outcome)) parts.push(formatTail(`${node.name}: ${node.outcome ?? 'unknown'}`, node));
  return parts.join('\n\n');
}

function formatTail(heading: string, r: NodeView | BuildView): string {
  const tail = r.log.slice(-tailLength);
  const lines = [`── ${forTerminal(heading)}${r.error ? `: ${errorLine(r.error)}` : ''}`];
  if (tail.length === 0) lines.push('   (no log)');
  else {
    if (r.logTotal > tail.length) lines.push(`   … last ${tail.length} of ${r.logTotal} lines`);
    lines.push(...tail.map((l) => `   ${forTerminal(l)}`));
  }
  return lines.join('\n');
}

/** One row per node; a large fleet's rows grouped by outcome, failures last (run-start order within a group). */
function formatTable(view: RunView): string {
  const rows = [['NODE', 'OUTCOME', 'ERROR']];
  const rank = (n: NodeView) => outcomeOrder.indexOf(n.outcome ?? 'unknown');
  const nodes = isScaled(view.nodes.length) ? [...view.nodes].sort((a, b) => rank(a) - rank(b)) : view.nodes;
  for (const node of nodes) rows.push([forTerminal(node.name), node.outcome ?? 'unknown', errorLine(node.error)]);
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

function formatCounts(view: RunView): string {
  const { pending, ...byOutcome } = view.counts;
  const counts: Record<Outcome | 'unknown', number> = { ...byOutcome, unknown: pending };
  const parts = outcomeOrder.filter((o) => counts[o] > 0).map((o) => `${counts[o]} ${o}`);
  const lines = [`${countOf(view.nodes.length, 'node')}: ${parts.join(', ')}`];
  if (view.evaluation?.done) lines.push(describeEvalDone(view.evaluation.done));
  if (view.waves.length > 0) lines.push(formatWaves(view));
  const failedBuilds = view.builds.filter((b) => b.ok === false).length;
  if (failedBuilds > 0) lines.push(`${countOf(failedBuilds, 'build')} failed`);
  const s = view.summary;
  if (s) lines.push(`${s.interrupted ? 'interrupted; ' : ''}exit code ${s.exitCode} after ${(s.durationMs / 1000).toFixed(1)} s`);
  const stuck = view.nodes.filter((n) => n.outcome === 'rollback-failed').map((n) => forTerminal(n.name));
  if (stuck.length > 0) {
    lines.push(`ATTENTION: ${stuck.join(', ')} could not be put back on the previous generation; fix by hand (see errors above).`);
  }
  const gone = view.nodes.filter((n) => n.outcome === 'unreachable-after-reboot').map((n) => forTerminal(n.name));
  if (gone.length > 0) lines.push(`ATTENTION: ${gone.join(', ')} did not come back after ${gone.length === 1 ? 'its reboot: its state is unknown; check it' : 'their reboots: their state is unknown; check them'} (see errors above).`);
  return lines.join('\n');
}

/** `3 waves: 1 passed, 1 failed, 1 not started`. */
function formatWaves(view: RunView): string {
  const verdicts = ['passed', 'failed', 'interrupted'] as const;
  const parts = verdicts.map((v) => [v, view.waves.filter((w) => w.verdict === v).length] as const).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`);
  const running = view.waves.filter((w) => w.state === 'running').length;
  const notStarted = view.waves.filter((w) => w.state === 'planned').length;
  if (running > 0) parts.push(`${running} unfinished`);
  if (notStarted > 0) parts.push(`${notStarted} not started`);
  return `${countOf(view.waves.length, 'wave')}: ${parts.join(', ')}`;
}
