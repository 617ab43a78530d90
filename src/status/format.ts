// `fleet status` as text: one table row per node, a line per node that is not in sync saying why, a count.
import { shortStorePath } from '../plan/format.js';
import { oneLine } from '../util/terminal-text.js';
import { describeRev, NODE_STATES, type LastDeploy, type NodeStatus } from './classify.js';

/** `2026-11-21 09:15 UTC` from an ISO time. */
export function shortTime(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/** `3f2a1b9c0d1e+dirty by alice@laptop 2026-11-21 09:15 UTC "hotfix"`; a rollback says so. */
export function describeLastDeploy(d: LastDeploy): string {
  const what = d.kind === 'rollback' ? `rollback (${describeRev(d)})` : describeRev(d);
  return `${what} by ${d.by} ${shortTime(d.time)}${d.message !== undefined ? ` ${JSON.stringify(d.message)}` : ''}`;
}

export const STATUS_HEADER = ['NODE', 'STATE', 'RUNNING', 'GEN', 'LAST DEPLOY'] as const;

/** One node's cells, under STATUS_HEADER: the text table's and the watch's. What the target said (paths, the
 *  record's `by` and message) goes through oneLine: a cell must neither drive the terminal nor break the row. */
export function statusRow(s: NodeStatus): [string, string, string, string, string] {
  const running = s.system?.currentSystem;
  const generation = s.system?.generation !== undefined ? String(s.system.generation) : (s.system?.profileLink ?? '-');
  const cells: [string, string, string, string, string] = [
    s.node, s.state, s.system ? (running ? shortStorePath(running) : 'nothing') : '?', s.system ? generation : '?', s.lastDeploy ? describeLastDeploy(s.lastDeploy) : '-',
  ];
  return cells.map(oneLine) as typeof cells;
}

/** Why a node is in its state, in one line (an unreachable node's reason is ssh's or Nix's own words). */
export function reasonOf(s: NodeStatus): string {
  return oneLine(s.reason);
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** `4 nodes: 2 in-sync, 1 outdated, 1 unreachable` (states in their fixed order). */
export function countLine(statuses: readonly NodeStatus[]): string {
  const counts = NODE_STATES.map((state) => [state, statuses.filter((s) => s.state === state).length] as const).filter(([, n]) => n > 0);
  return `${statuses.length} ${statuses.length === 1 ? 'node' : 'nodes'}: ${counts.map(([state, n]) => `${n} ${state}`).join(', ')}`;
}

export function formatStatus(statuses: readonly NodeStatus[]): string {
  if (statuses.length === 0) return 'no node could be asked';
  const lines = table([[...STATUS_HEADER], ...statuses.map(statusRow)]);
  const why = statuses.filter((s) => s.state !== 'in-sync');
  if (why.length > 0) lines.push('', ...why.map((s) => `${s.node}: ${s.state}: ${reasonOf(s)}`));
  lines.push('', countLine(statuses));
  return lines.join('\n');
}
