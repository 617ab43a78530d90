// The interactive UI's words: pure functions of the run view, shared by its screens and tested on their own.
import { formatNodeSummary } from '../../../diff/format.js';
import { lockTime } from '../../../lock/text.js';
import type { CopyRoute, NodePlan } from '../../../plan/types.js';
import type { SystemState, TargetLock } from '../../../target/state.js';
import type { Outcome } from '../../../events.js';
import { describePhase, firstLine } from '../../labels.js';
import { countOf } from '../../../util/text.js';
import { forTerminal } from '../../../util/terminal-text.js';
import { buildOf, nodeOf, type BuildView, type NodeDiffView, type NodeView, type RunView, type WaveView } from '../../view.js';

const storePath = /^\/nix\/store\/([0-9a-z]{32})-(.+)$/;

/** `/nix/store/<hash>-nixos-system-web-1-24.05` → its name and a 7-character hash (to tell two builds apart). */
export function systemName(path: string): { name: string; hash: string } {
  const m = storePath.exec(path);
  return m ? { name: m[2]!, hash: m[1]!.slice(0, 7) } : { name: path, hash: '' };
}

/** What a node runs now, as the goal sees it. */
function running(from: SystemState): string | undefined {
  return from.currentSystem ?? from.profileTarget;
}

/** `gen 41 → new  nixos-system-web-1 (0ld0000 → 9e70000)`; the name twice only when it changes. */
export function describeFromTo(node: Pick<NodeView, 'from' | 'to'>, planned?: Pick<NodePlan, 'to'>): string {
  const to = node.to?.system ?? planned?.to.system;
  const toGen = planned?.to.generation;
  const now = node.from ? running(node.from) : undefined;
  const gen = node.from?.generation !== undefined ? `gen ${node.from.generation}` : node.from ? 'no generation' : 'not asked';
  if (!to) return gen;
  const after = systemName(to);
  const newGen = toGen !== undefined ? `gen ${toGen}` : 'new';
  if (!now) return `${gen} → ${newGen}  ${after.name} (${after.hash})`;
  const before = systemName(now);
  if (now === to) return `${gen}  ${after.name} (${after.hash}), runs it already`;
  if (before.name === after.name) return `${gen} → ${newGen}  ${after.name} (${before.hash} → ${after.hash})`;
  return `${gen} → ${newGen}  ${before.name} (${before.hash}) → ${after.name} (${after.hash})`;
}

/** `12s`, `3m05s`, `1h02m`: elapsed time between two instants (ISO or ms). */
export function formatElapsed(fromIso: string, toMs: number): string {
  const s = Math.max(0, Math.floor((toMs - Date.parse(fromIso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** How long a node has been in its phase (running) or took (ended); '' before it started. */
export function nodeElapsed(node: NodeView, now: number, planned = false): string {
  if (node.endedAt && node.startedAt) return formatElapsed(node.startedAt, Date.parse(node.endedAt));
  if (node.phaseSince && isBusy(node, planned)) return formatElapsed(node.phaseSince, now);
  if (node.phaseSince && !planned) return formatElapsed(node.phaseSince, now);
  return '';
}

/** The copy route of the plan in a few words. */
export function describeCopy(copy: CopyRoute): string {
  if (copy.kind === 'none') {
    return copy.reason === 'present' ? 'already on target' : copy.reason === 'built-on-target' ? 'built on target' : 'no copy';
  }
  if (copy.kind === 'cache') return copy.strict ? 'fetch from cache (strict)' : 'fetch from cache';
  return copy.kind === 'from-local' ? 'copy from local' : `copy from ${copy.buildJob}`;
}

/** Another run's lock, or one this run takes over; '' when there is none. */
export function describeLock(lock: TargetLock | undefined): string {
  // Taken from nobody: this run's own lock, as on every node it deploys.
  if (!lock || (lock.state === 'taken' && !lock.holder && !lock.expired)) return '';
  const h = lock.holder;
  const who = h ? `${h.by}, run ${h.run}` : 'an unreadable lock record';
  if (lock.state === 'taken') return `took over the lock of ${who}`;
  if (lock.expired) return `stale lock of ${who}${h ? `, expired ${lockTime(h.expires)}` : ''}: taken over`;
  return `locked by ${who}${h ? `, until ${lockTime(h.expires)}` : ''}`;
}

/** An outcome as the rollout shows it. */
export function describeOutcome(outcome: Outcome): string {
  switch (outcome) {
    case 'unchanged': return 'up to date';
    case 'rolled-back': return 'rolled back';
    case 'rollback-failed': return 'ROLLBACK FAILED';
    case 'unreachable-after-reboot': return 'NOT BACK AFTER REBOOT';
    default: return outcome;
  }
}

export type Tone = 'good' | 'bad' | 'warn' | 'quiet' | 'busy';

export function outcomeTone(outcome: Outcome | undefined): Tone {
  switch (outcome) {
    case undefined: return 'busy';
    case 'activated': case 'built': case 'pushed': case 'rebooted': return 'good';
    case 'unchanged': case 'skipped': return 'quiet';
    case 'rolled-back': case 'held': case 'locked': return 'warn';
    case 'failed': case 'rollback-failed': case 'unreachable-after-reboot': return 'bad';
  }
}

/** Phases of planning: once the plan is out, a node still in one waits for its turn. */
const planning: ReadonlySet<string> = new Set(['evaluate', 'query']);

/** Started, not ended, and past planning: its phase is happening now. */
export function isBusy(node: NodeView, planned: boolean): boolean {
  return !node.outcome && !!node.phase && !(planned && planning.has(node.phase));
}

/** A node's state in words: its outcome, else its phase (`health check 2/5 nginx`), else `waiting`. */
export function describeNodeState(node: NodeView, planned = false): string {
  if (node.outcome) return describeOutcome(node.outcome);
  if (planned && node.phase && planning.has(node.phase)) return 'waiting';
  if (node.phase === 'health' && node.health) return `health check ${node.health.attempt}/${node.health.attempts}`;
  if (node.phase) return describePhase(node.phase);
  return 'waiting';
}

/** `2 changed, 1 added, +12.3 MiB` or `no change`: `fleet plan`'s words. */
export function diffSummary(diff: NodeDiffView): string {
  return formatNodeSummary({ ...diff, added: [...diff.added], removed: [...diff.removed], changed: [...diff.changed] });
}

/** The closure diff in a line; while the plan waits: why it is not there yet. */
export function describeDiff(view: RunView, node: NodeView): string {
  if (node.diff) return diffSummary(node.diff);
  if (node.outcome === 'locked') return 'not touched';
  if (!node.activate) return 'no change';
  const failed = [...node.log].reverse().find((l) => l.startsWith('diff: '));
  if (failed) return `no diff: ${forTerminal(failed.slice('diff: '.length))}`;
  const build = node.build !== undefined ? buildOf(view, node.build) : undefined;
  if (build?.ok === false) return 'no diff: the build failed';
  if (build && build.state !== 'done') return 'building…';
  return 'reading closures…';
}

/** `local: running 12s, 2 derivations for web-1, web-3` (one line per build host). */
export function describeBuild(build: BuildView, now: number): string {
  const what = `${countOf(build.drvPaths.length, 'derivation')} for ${build.nodes.join(', ')}`;
  switch (build.state) {
    case 'planned': return `${build.id}: waiting, ${what}`;
    case 'running': return `${build.id}: building ${build.startedAt ? formatElapsed(build.startedAt, now) : ''}, ${what}`;
    case 'done': {
      const took = build.startedAt && build.endedAt ? ` in ${formatElapsed(build.startedAt, Date.parse(build.endedAt))}` : '';
      return build.ok === false ? `${build.id}: FAILED${took}: ${forTerminal(firstLine(build.error ?? ''))}` : `${build.id}: built${took}, ${what}`;
    }
  }
}

export function buildTone(build: BuildView): Tone {
  return build.state === 'done' ? (build.ok === false ? 'bad' : 'good') : build.state === 'running' ? 'busy' : 'quiet';
}

/** A wave's state: planned, running, passed, failed, interrupted; `paused before` when the run waits at it. */
export function describeWave(wave: WaveView, view: RunView): string {
  if (view.paused?.wave === wave.wave) return 'paused before';
  const nodes = wave.nodes.map((name) => nodeOf(view, name));
  if (wave.state === 'planned' && nodes.length > 0 && nodes.every((n) => n?.outcome === 'held')) return 'held';
  if (wave.state === 'done') return `${wave.verdict ?? 'done'}${wave.failures ? ` (${wave.failures} failed${wave.maxFailures !== undefined ? `, ${wave.maxFailures} allowed` : ''})` : ''}`;
  return wave.state;
}

export function waveTone(wave: WaveView, view: RunView): Tone {
  if (describeWave(wave, view) === 'held') return 'warn';
  if (wave.state === 'done') return wave.verdict === 'passed' ? 'good' : wave.verdict === 'failed' ? 'bad' : 'warn';
  return wave.state === 'running' ? 'busy' : 'quiet';
}

/** The wave running now, or the last one that started (for "pausing after wave k"). */
export function currentWave(view: RunView): number | undefined {
  const started = view.waves.filter((w) => w.state !== 'planned');
  return started.at(-1)?.wave;
}

/** Nodes in the order the screens list them: wave by wave, then nodes outside any wave (run-start order). */
export function nodeGroups(view: RunView): { wave?: WaveView; nodes: NodeView[] }[] {
  const placed = new Set<string>();
  const groups: { wave?: WaveView; nodes: NodeView[] }[] = view.waves.map((wave) => {
    const nodes = wave.nodes.map((name) => nodeOf(view, name)).filter((n): n is NodeView => !!n);
    for (const n of nodes) placed.add(n.name);
    return { wave, nodes };
  });
  const rest = view.nodes.filter((n) => !placed.has(n.name));
  if (rest.length > 0) groups.push({ nodes: rest });
  return groups;
}

/** A one-line error, safe for the terminal. */
export function errorText(error: string | undefined): string {
  return error ? forTerminal(firstLine(error)) : '';
}
