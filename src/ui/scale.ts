// Fleets too large for a line per node: when the views switch to counts, and their words (listr2, plain lines, ink).
import type { Phase } from '../errors.js';
import type { Outcome } from '../events.js';
import { formatList } from '../select/messages.js';
import { describePhase } from './labels.js';
import { countOf } from '../util/text.js';
import type { Counts, NodeView, RunView, WaveView } from './view.js';

/** More nodes than this and a view shows counts, the nodes in flight and the failures, not a line per node. */
export const SCALE_AT = 20;
/** Names listed of the nodes in flight (the rest are counted). */
export const IN_FLIGHT_SHOWN = 6;

export function isScaled(nodes: number): boolean {
  return nodes > SCALE_AT;
}

/** Outcomes in report order: successes first, failures last (next to the counts a person reads at the end). */
export const OUTCOME_ORDER: readonly Outcome[] = [
  'activated', 'rebooted', 'built', 'pushed', 'unchanged', 'skipped', 'locked', 'failed', 'rolled-back', 'held', 'rollback-failed', 'unreachable-after-reboot',
];

/** Failures a scaled view names as they happen; held and skipped nodes (never touched) are only counted. */
export const NAMED_FAILURES: ReadonlySet<Outcome> = new Set(['failed', 'rolled-back', 'rollback-failed', 'locked', 'unreachable-after-reboot']);

/** Phases in the order a node goes through them. */
const PHASE_ORDER: readonly Phase[] = ['connect', 'evaluate', 'query', 'build', 'copy', 'keys', 'activate', 'verify', 'confirm', 'reboot', 'health', 'rollback', 'ready'];
/** Once the plan is out, a node still on one of these waits for its turn. */
const PLANNING: ReadonlySet<Phase> = new Set(['evaluate', 'query']);

/** `470 activated, 2 failed`: the outcomes reached, zero counts left out. */
export function describeOutcomes(counts: Counts): string {
  return OUTCOME_ORDER.filter((o) => counts[o] > 0).map((o) => `${counts[o]} ${o}`).join(', ');
}

/** How many ended: every outcome but pending. */
export function endedCount(counts: Counts): number {
  return OUTCOME_ORDER.reduce((sum, o) => sum + counts[o], 0);
}

/** `12 copying, 3 activating, 480 waiting`: nodes not ended by phase (after the plan a planning phase is waiting). */
export function describePhases(view: RunView): string {
  const planned = view.plan !== undefined;
  let waiting = view.phases.waiting;
  const parts: string[] = [];
  for (const phase of PHASE_ORDER) {
    const n = view.phases[phase];
    if (n === 0) continue;
    if (planned && PLANNING.has(phase)) waiting += n;
    else parts.push(`${n} ${describePhase(phase)}`);
  }
  if (waiting > 0) parts.push(`${waiting} waiting`);
  return parts.join(', ');
}

/** `480 of 500 done: 470 activated, 10 failed · 12 copying, 8 waiting`. */
export function describeProgress(view: RunView): string {
  const done = `${endedCount(view.counts)} of ${countOf(view.nodes.length, 'node')} done`;
  const outcomes = describeOutcomes(view.counts);
  const phases = describePhases(view);
  return [`${done}${outcomes ? `: ${outcomes}` : ''}`, phases].filter(Boolean).join(' · ');
}

/** Not ended and past planning: what the deployer is doing right now, in the view's order. */
export function nodesInFlight(view: RunView): NodeView[] {
  const planned = view.plan !== undefined;
  return view.nodes.filter((n) => !n.outcome && n.phase !== undefined && !(planned && PLANNING.has(n.phase)));
}

/** `in flight: web-1 copying, web-2 activating … and 12 more` (at most IN_FLIGHT_SHOWN named); '' when none. */
export function describeInFlight(view: RunView, max = IN_FLIGHT_SHOWN): string {
  const busy = nodesInFlight(view);
  if (busy.length === 0) return '';
  return `in flight: ${formatList(busy.map((n) => `${n.name} ${describePhase(n.phase!)}`), max)}`;
}

/** `wave 2 of 4 running: 12 of 40 done, 1 rolled-back (1 allowed)`. */
export function describeWaveProgress(wave: WaveView, total: number): string {
  const outcomes = describeOutcomes(wave.counts);
  const allowed = wave.maxFailures === undefined ? '' : ` (${wave.maxFailures} allowed)`;
  const state = wave.state === 'done' ? (wave.verdict ?? 'done') : wave.state;
  return `wave ${wave.wave} of ${total} ${state}: ${endedCount(wave.counts)} of ${countOf(wave.nodes.length, 'node')} done${outcomes ? `, ${outcomes}` : ''}${allowed}`;
}

/** The wave running now (the latest started), else the first one. */
export function currentWaveOf(view: RunView): WaveView | undefined {
  return view.waves.filter((w) => w.state !== 'planned').at(-1) ?? view.waves[0];
}

/** `waves: 1 passed, 2 passed, 3 running, 4 planned` (at most 10, then counted). */
export function describeWaves(view: RunView): string {
  return `waves: ${formatList(view.waves.map((w) => `${w.wave} ${w.state === 'done' ? (w.verdict ?? 'done') : w.state}`))}`;
}
