// The end-of-run report both line and listr renderers print: failure log tails, a table, counts.
import { FAILED_OUTCOMES, type Outcome } from '../events.js';
import { countOf, firstLine } from './labels.js';
import type { BuildRecord, NodeRecord, RunRecord } from './record.js';

const tailLength = 20;
// A node with no outcome at the end (the run was cut short) is shown like a failure.
const failures: ReadonlySet<Outcome | undefined> = new Set([...FAILED_OUTCOMES, undefined]);
const outcomeOrder: (Outcome | 'unknown')[] = [
  'activated', 'built', 'pushed', 'unchanged', 'skipped', 'failed', 'rolled-back', 'rollback-failed', 'unknown',
];

/** The whole report as text (ends with a newline), or '' when the run never started. */
export function formatReport(record: RunRecord): string {
  if (record.nodes.size === 0 && record.builds.length === 0) return '';
  const sections = [formatLogTails(record), formatTable(record), formatCounts(record)].filter((s) => s !== '');
  return `\n${sections.join('\n\n')}\n`;
}

function formatLogTails(record: RunRecord): string {
  const parts: string[] = [];
  for (const build of record.builds.filter((b) => b.ok === false)) {
    parts.push(formatTail(`build on ${build.buildHost} failed`, build));
  }
  for (const [node, r] of record.nodes) if (failures.has(r.outcome)) parts.push(formatTail(`${node}: ${r.outcome ?? 'unknown'}`, r));
  return parts.join('\n\n');
}

function formatTail(heading: string, r: NodeRecord | BuildRecord): string {
  const tail = r.log.slice(-tailLength);
  const lines = [`── ${heading}${r.error ? `: ${firstLine(r.error)}` : ''}`];
  if (tail.length === 0) lines.push('   (no log)');
  else {
    if (r.log.length > tail.length) lines.push(`   … last ${tail.length} of ${r.log.length} lines`);
    lines.push(...tail.map((l) => `   ${l}`));
  }
  return lines.join('\n');
}

function formatTable(record: RunRecord): string {
  const rows = [['NODE', 'OUTCOME', 'ERROR']];
  for (const [node, r] of record.nodes) rows.push([node, r.outcome ?? 'unknown', r.error ? firstLine(r.error) : '']);
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

function formatCounts(record: RunRecord): string {
  const counts = new Map<string, number>();
  for (const r of record.nodes.values()) counts.set(r.outcome ?? 'unknown', (counts.get(r.outcome ?? 'unknown') ?? 0) + 1);
  const parts = outcomeOrder.filter((o) => counts.has(o)).map((o) => `${counts.get(o)} ${o}`);
  const lines = [`${countOf(record.nodes.size, 'node')}: ${parts.join(', ')}`];
  const failedBuilds = record.builds.filter((b) => b.ok === false).length;
  if (failedBuilds > 0) lines.push(`${countOf(failedBuilds, 'build')} failed`);
  const s = record.summary;
  if (s) lines.push(`${s.interrupted ? 'interrupted; ' : ''}exit code ${s.exitCode} after ${(s.durationMs / 1000).toFixed(1)} s`);
  const stuck = [...record.nodes].filter(([, r]) => r.outcome === 'rollback-failed').map(([n]) => n);
  if (stuck.length > 0) {
    lines.push(`ATTENTION: ${stuck.join(', ')} could not be put back on the previous generation; fix by hand (see errors above).`);
  }
  return lines.join('\n');
}
