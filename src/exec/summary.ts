// `fleet exec`'s end in numbers: the nodes grouped by how they ended, and the exit code CI reads. Pure.
import { ExitCode } from '../errors.js';
import type { ExecGroup, ExecOutcome, ExecResult } from '../events.js';

/** Groups come in this order; `ok`, `failed` and `timed-out` split further by exit code. */
const ORDER: readonly ExecOutcome[] = ['ok', 'failed', 'timed-out', 'interrupted', 'unreachable', 'skipped', 'held'];
const BY_CODE: ReadonlySet<ExecOutcome> = new Set(['ok', 'failed', 'timed-out']);

/** Nodes that ended alike, each group in `order` (fleet-file order); exit codes ascending, none last. */
export function groupResults(order: readonly string[], results: ReadonlyMap<string, ExecResult>): ExecGroup[] {
  const groups = new Map<string, ExecGroup>();
  for (const name of order) {
    const r = results.get(name);
    if (!r) continue;
    const code = BY_CODE.has(r.outcome) ? r.exitCode : undefined;
    const key = `${r.outcome}:${code ?? ''}`;
    const group = groups.get(key) ?? { outcome: r.outcome, ...(code !== undefined ? { exitCode: code } : {}), nodes: [] };
    group.nodes.push(name);
    groups.set(key, group);
  }
  const rank = (g: ExecGroup) => ORDER.indexOf(g.outcome) * 1000 + (g.exitCode ?? 999);
  return [...groups.values()].sort((a, b) => rank(a) - rank(b));
}

/** 0: every node exited 0; 1: one did not (or was unreachable, timed out, held); 130: interrupted. */
export function execExitCode(results: readonly ExecResult[], interrupted: boolean): ExitCode {
  if (interrupted) return ExitCode.interrupted;
  return results.every((r) => r.outcome === 'ok') ? ExitCode.ok : ExitCode.nodesFailed;
}
