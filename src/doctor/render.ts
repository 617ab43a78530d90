// `fleet doctor` as text: a block per machine, a line per check, the fix under what failed, a count at the end. What
// machines said (versions, paths, errors) goes through oneLine: a line must neither drive the terminal nor break.
import { oneLine } from '../util/terminal-text.js';
import { countOf } from '../util/text.js';
import { countChecks, type CheckResult, type HostReport } from './types.js';

const LABEL: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };
const NAME_WIDTH = 'nix-version'.length;
const INDENT = ' '.repeat(2 + 4 + 2 + NAME_WIDTH + 2);

function checkLines(c: CheckResult): string[] {
  const line = `  ${LABEL[c.status].padEnd(4)}  ${c.check.padEnd(NAME_WIDTH)}  ${oneLine(c.detail)}`;
  return c.fix ? [line, `${INDENT}fix: ${oneLine(c.fix)}`] : [line];
}

/** Skipped checks that share a reason (a machine that did not answer skips most) take one line. */
function skippedLines(skipped: readonly CheckResult[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const c of skipped) byReason.set(c.detail, [...(byReason.get(c.detail) ?? []), c.check]);
  return [...byReason].map(([reason, names]) => `  skip  ${names.length === 1 ? `${names[0]!.padEnd(NAME_WIDTH)}  ` : `${names.join(', ')}: `}${oneLine(reason)}`);
}

export function formatHostReport(r: HostReport): string {
  const lines = [`${r.role === 'deployer' ? 'deployer' : `${r.role} ${oneLine(r.name)}`}  ${oneLine(r.address)}`];
  const skipped = r.checks.filter((c) => c.status === 'skip');
  for (const c of r.checks) if (c.status !== 'skip') lines.push(...checkLines(c));
  lines.push(...skippedLines(skipped));
  return lines.join('\n');
}

/** `3 machines, 40 checks: 36 ok, 1 warning, 2 failed, 1 skipped`, and which checks failed where. */
export function formatDoctorSummary(reports: readonly HostReport[]): string {
  const counts = countChecks(reports);
  const total = counts.ok + counts.warn + counts.fail + counts.skip;
  const parts = [`${counts.ok} ok`, ...(counts.warn ? [countOf(counts.warn, 'warning')] : []), ...(counts.fail ? [`${counts.fail} failed`] : []), ...(counts.skip ? [`${counts.skip} skipped`] : [])];
  const lines = [`${countOf(reports.length, 'machine')}, ${countOf(total, 'check')}: ${parts.join(', ')}`];
  const failed = reports.flatMap((r) => r.checks.filter((c) => c.status === 'fail').map((c) => `${oneLine(r.name)} (${c.check})`));
  if (failed.length > 0) lines.push(`failed: ${failed.join(', ')}`);
  return lines.join('\n');
}
