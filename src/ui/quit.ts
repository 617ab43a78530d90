// The summary a forced quit (a second Ctrl+C) still owes the event stream: the contract says it always comes last.
import type { BodyOf, Outcome } from '../events.js';
import type { RunView } from './view.js';

export const QUIT_WHILE_ACTIVATING = 'fleet quit (a second Ctrl+C) while it was activating: its state is unknown';
export const QUIT_BEFORE_DONE = 'fleet quit (a second Ctrl+C) before it was done';

/**
 * From the events so far: every node keeps the outcome it had; one mid-activation is `rollback-failed` (its state
 * is unknown, exit 3), any other unfinished one `skipped`. A `fleet status` node that was asked has its answer
 * already. Undefined: nothing to sum up (no run started, or its summary was written).
 */
export function quitSummary(view: RunView, exitCode: number, activating: readonly string[], now = Date.now()): BodyOf<'summary'> | undefined {
  if (view.summary || view.command === undefined || view.goal === undefined) return undefined;
  const nodes: Record<string, { outcome: Outcome; error?: string }> = {};
  for (const n of view.nodes) {
    if (n.outcome) nodes[n.name] = { outcome: n.outcome, ...(n.error !== undefined ? { error: n.error } : {}) };
    else if (activating.includes(n.name)) nodes[n.name] = { outcome: 'rollback-failed', error: QUIT_WHILE_ACTIVATING };
    else if (!n.status) nodes[n.name] = { outcome: 'skipped', error: QUIT_BEFORE_DONE };
  }
  const durationMs = view.startedAt ? Math.max(0, now - Date.parse(view.startedAt)) : 0;
  return { type: 'summary', command: view.command, goal: view.goal, exitCode, durationMs, interrupted: true, nodes };
}
