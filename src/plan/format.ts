// `fleet plan` as text: one section per build location, one line per node with what it runs now and
// what it will run; stable order for diffs.
import type { NodePlan, Plan, SystemState } from './types.js';

/** `/nix/store/<hash>-name` → `name`: the part of a store path people recognise. */
export function storeName(path: string | undefined): string {
  if (!path) return '-';
  const base = path.slice(path.lastIndexOf('/') + 1);
  return /^[0-9a-z]{32}-/.test(base) ? base.slice(33) : base;
}

/** What a node runs now, as one phrase: generation and running system (and the booted one if it differs). */
export function describeFrom(from: SystemState | undefined): string {
  if (!from) return 'not asked';
  const generation = from.generation !== undefined ? `gen ${from.generation}` : from.profileLink ? storeName(from.profileLink) : 'no profile';
  const running = from.currentSystem ? storeName(from.currentSystem) : 'nothing running';
  const booted = from.bootedSystem && from.bootedSystem !== from.currentSystem ? `, booted ${storeName(from.bootedSystem)}` : '';
  return `${generation}, ${running}${booted}`;
}

function describeCopy(node: NodePlan): string {
  const copy = node.copy;
  if (copy.kind === 'none') return copy.reason === 'not-needed' ? '-' : `no copy (${copy.reason})`;
  return copy.kind === 'from-local' ? 'copy from local' : `copy from ${copy.buildJob} (relay if direct fails)`;
}

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
    lines.push(`  ${node.name.padEnd(width)}  ${node.activate ? 'activate' : 'no activation'}  ${describeCopy(node)}  ${node.reason}`);
    lines.push(`  ${''.padEnd(width)}  from ${describeFrom(node.from)}  →  to ${storeName(node.to.system)}  (${node.to.system})`);
  }
  const toActivate = plan.nodes.filter((n) => n.activate).length;
  const drvs = plan.builds.reduce((sum, j) => sum + j.drvPaths.length, 0);
  lines.push(`summary: ${drvs} build(s), ${plan.nodes.filter((n) => n.copy.kind !== 'none').length} copy(ies), ${toActivate} activation(s), ${plan.nodes.length - toActivate} node(s) without activation`);
  return lines.join('\n');
}
