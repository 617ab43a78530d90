// `fleet plan` as text: one section per build location, one line per node with what it runs now and
// what it will run; stable order for diffs.
import { planLockText } from '../lock/text.js';
import type { NodePlan, Plan } from './types.js';
import type { SystemState } from '../target/state.js';

const storePrefix = /^\/nix\/store\/([0-9a-z]{32})-(.+)$/;

/** `/nix/store/<32-char hash>-nixos-system-web-1` → `1a2b3c4-nixos-system-web-1` (like a short git hash). */
export function shortStorePath(path: string): string {
  const m = storePrefix.exec(path);
  return m ? `${m[1]!.slice(0, 7)}-${m[2]!}` : path;
}

/** What a node runs now: `gen 41 1a2b3c4-nixos-system-web-1`, what runs if the profile points elsewhere,
 *  and what it booted if that differs again. The one wording `fleet plan` and the run renderers share. */
export function describeFrom(from: SystemState): string {
  const gen = from.generation !== undefined ? `gen ${from.generation}` : from.profileLink;
  const profile = from.profileTarget ?? from.currentSystem;
  const parts = [gen, profile && shortStorePath(profile)].filter((p): p is string => !!p);
  if (from.currentSystem && from.profileTarget && from.currentSystem !== from.profileTarget) parts.push(`(running ${shortStorePath(from.currentSystem)})`);
  const running = from.currentSystem ?? from.profileTarget;
  if (from.bootedSystem && from.bootedSystem !== running) parts.push(`(booted ${shortStorePath(from.bootedSystem)})`);
  return parts.length > 0 ? parts.join(' ') : 'nothing installed';
}

/** How the new system gets to the node: `copy from local`, `-` (nothing to copy)... */
export function describeCopy(node: NodePlan): string {
  const copy = node.copy;
  if (copy.kind === 'none') return copy.reason === 'not-needed' ? '-' : `no copy (${copy.reason})`;
  if (copy.kind === 'cache') return `fetch from cache ${copy.substituter} (${copy.buildJob ? `uploaded from ${copy.buildJob}; ` : ''}${copy.strict ? 'strict: no push' : 'push if it cannot'})`;
  return copy.kind === 'from-local' ? 'copy from local' : `copy from ${copy.buildJob} (relay if direct fails)`;
}

/** notes: per node, a closure diff line (`fleet plan` computes them where the new system is already built);
 *  keys: per node, what its keys would do (`2 changed, 28 unchanged (tls.key, wg)`). */
export function formatPlan(plan: Plan, notes: Readonly<Record<string, string>> = {}, keys: Readonly<Record<string, string>> = {}): string {
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
    lines.push(`  ${''.padEnd(width)}  ${node.from ? describeFrom(node.from) : 'not asked'} → ${shortStorePath(node.to.system)}  (${node.to.system})`);
    // A live lock is the reason above already; a stale one (or one taken over) gets its own line.
    if (node.lock && (node.lock.state === 'taken' || node.lock.expired)) lines.push(`  ${''.padEnd(width)}  lock: ${planLockText(node.lock)}`);
    if (notes[node.name] !== undefined) lines.push(`  ${''.padEnd(width)}  diff: ${notes[node.name]!}`);
    if (keys[node.name] !== undefined) lines.push(`  ${''.padEnd(width)}  keys: ${keys[node.name]!}`);
  }
  if (plan.upload) {
    lines.push(`upload: ${plan.upload.closures.length} closure(s) to ${plan.upload.url}, once, before any node fetches (paths it has are skipped)`);
    for (const closure of plan.upload.closures) lines.push(`  ${closure}`);
  }
  if (plan.waves) {
    // Every name: `fleet plan` is where people check which node lands in which wave.
    lines.push('waves:');
    plan.waves.forEach((wave, i) => lines.push(`  ${i + 1}: ${wave.nodes.length} node(s), may fail ${wave.maxFailures}: ${wave.nodes.join(', ')}`));
  }
  const toActivate = plan.nodes.filter((n) => n.activate).length;
  const drvs = plan.builds.reduce((sum, j) => sum + j.drvPaths.length, 0);
  const locked = plan.nodes.filter((n) => n.lock?.state === 'held' && !n.lock.expired).length;
  lines.push(`summary: ${drvs} build(s), ${plan.nodes.filter((n) => n.copy.kind !== 'none').length} copy(ies), ${toActivate} activation(s), ${plan.nodes.length - toActivate} node(s) without activation${locked ? ` (${locked} locked by another run)` : ''}`);
  return lines.join('\n');
}
