// `fleet plan` as text: one section per build location, one line per node; stable order for diffs.
import type { Plan } from './types.js';

export function formatPlan(plan: Plan): string {
  const lines: string[] = [`goal: ${plan.goal}`];
  lines.push(plan.builds.length === 0 ? 'builds: none' : 'builds:');
  for (const job of plan.builds) {
    lines.push(`  on ${job.id}: ${job.drvPaths.length} derivation(s) for ${job.nodes.length} node(s)`);
    for (const drv of job.drvPaths) lines.push(`    ${drv}`);
  }
  lines.push('nodes:');
  const width = Math.max(4, ...plan.nodes.map((n) => n.name.length));
  for (const node of plan.nodes) {
    const copy =
      node.copy.kind === 'none'
        ? node.copy.reason === 'not-needed' ? '-' : `no copy (${node.copy.reason})`
        : node.copy.kind === 'from-local' ? 'copy from local' : `copy from ${node.copy.buildJob} (relay if direct fails)`;
    lines.push(`  ${node.name.padEnd(width)}  ${node.activate ? 'activate' : 'no activation'}  ${copy}  ${node.reason}  ${node.outPath}`);
  }
  const toActivate = plan.nodes.filter((n) => n.activate).length;
  const drvs = plan.builds.reduce((sum, j) => sum + j.drvPaths.length, 0);
  lines.push(`summary: ${drvs} build(s), ${plan.nodes.filter((n) => n.copy.kind !== 'none').length} copy(ies), ${toActivate} activation(s), ${plan.nodes.length - toActivate} node(s) without activation`);
  return lines.join('\n');
}
