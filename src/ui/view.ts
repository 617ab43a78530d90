// The state of a run as people see it, folded from events by one pure reducer: every renderer reads this.
import type { Phase } from '../errors.js';
import type { PackageChange } from '../diff/closure.js';
import type { Command, EventOf, FleetEvent, Outcome, PauseReason, ReviewState, WaveVerdict } from '../events.js';
import type { NodeStatus } from '../status/classify.js';
import type { Goal } from '../goal.js';
import type { BuildLocation, Plan } from '../plan/types.js';
import type { SystemState } from '../target/state.js';

/** Output lines kept per node and per build (the newest); `logTotal` still counts every line. */
export const LOG_CAP = 200;

export interface NodeView {
  name: string;
  /** The phase it is in now (or was in when it ended). */
  phase?: Phase;
  detail?: string;
  phaseSince?: string; // ISO time the current phase began
  outcome?: Outcome; // undefined: not ended (yet), or the run ended without saying
  error?: string;
  /** Streamed output (--verbose), replaced by node-done's log (the failed step's tail) when it has one. */
  log: readonly string[];
  logTotal: number;
  /** From the plan event: what it runs now, what it will run, which build makes it. */
  from?: SystemState;
  to?: { system: string };
  build?: string;
  activate?: boolean;
  reason?: string;
  startedAt?: string; // first phase
  endedAt?: string; // outcome known
  /** Its wave (1-based), from the plan or wave-start. */
  wave?: number;
  /** The latest health check attempt. */
  health?: HealthView;
  /** Its closure diff (`fleet diff`, `fleet plan`, and `-i` while the plan waits for review). */
  diff?: NodeDiffView;
  /** `fleet status`: what it runs against what the fleet file wants. */
  status?: NodeStatus;
}

export interface NodeDiffView {
  added: readonly PackageChange[];
  removed: readonly PackageChange[];
  changed: readonly PackageChange[];
  from?: string;
  to: string;
  sizeBefore: number;
  sizeAfter: number;
  sizeDelta: number;
}

export interface HealthView {
  check: string;
  attempt: number;
  attempts: number;
  ok: boolean;
  detail: string;
}

/** One wave of a staged rollout: planned (from the plan), running (wave-start), done (wave-done). */
export interface WaveView {
  wave: number; // 1-based
  nodes: readonly string[];
  /** Its nodes (those whose `wave` is this one) per outcome; `pending`: not ended. */
  counts: Counts;
  maxFailures?: number; // from the plan
  state: 'planned' | 'running' | 'done';
  failures?: number;
  verdict?: WaveVerdict;
  startedAt?: string;
  endedAt?: string;
}

export interface BuildView {
  id: string; // the plan's BuildJob id
  location?: BuildLocation; // from the plan
  state: 'planned' | 'running' | 'done';
  drvPaths: readonly string[];
  nodes: readonly string[];
  ok?: boolean;
  error?: string;
  log: readonly string[];
  logTotal: number;
  startedAt?: string;
  endedAt?: string;
}

/** The evaluation: chunks as they end, then its numbers (eval-done). */
export interface EvalView {
  chunks: number;
  evaluated: number; // nodes that answered so far
  peakRss: number; // the largest chunk peak so far
  done?: EventOf<'eval-done'>;
}

/** Per outcome how many nodes have it; `pending`: no outcome yet. */
export type Counts = Readonly<Record<Outcome | 'pending', number>>;

/** Nodes not ended yet, by the phase they are in; `waiting`: none yet. Kept by the reducer: at 10k nodes no
 *  renderer can afford to count them per event. */
export type PhaseCounts = Readonly<Record<Phase | 'waiting', number>>;

export interface RunView {
  run?: string;
  command?: Command;
  goal?: Goal;
  fleetVersion?: string;
  startedAt?: string;
  endedAt?: string; // the summary's time
  /** seq of the last event folded in; 0 before any. */
  lastSeq: number;
  plan?: Plan;
  /** run-start order; nodes first seen later are appended. */
  nodes: readonly NodeView[];
  nodeIndex: ReadonlyMap<string, number>;
  /** First-seen order (plan or build-start). */
  builds: readonly BuildView[];
  buildIndex: ReadonlyMap<string, number>;
  /** A staged rollout's waves, in order (empty without one). */
  waves: readonly WaveView[];
  /** `-i`: where the plan review stands (absent: no review in this run). */
  review?: ReviewState;
  /** From the eval-chunk and eval-done events (absent: nothing evaluated yet). */
  evaluation?: EvalView;
  /** A staged rollout waiting before a wave (cleared when it resumes). */
  paused?: { wave: number; reason: PauseReason };
  /** The final word: its outcomes win over earlier node-done events; nothing after it changes the view. */
  summary?: EventOf<'summary'>;
  counts: Counts;
  phases: PhaseCounts;
  /** Events left out: from another run, a seq already seen, or after the summary. */
  ignored: number;
}

const noCounts: Counts = {
  unchanged: 0, activated: 0, built: 0, pushed: 0, 'rolled-back': 0, 'rollback-failed': 0, failed: 0, skipped: 0, locked: 0, held: 0, rebooted: 0, 'unreachable-after-reboot': 0, pending: 0,
};

const noPhases: PhaseCounts = {
  waiting: 0, connect: 0, evaluate: 0, query: 0, build: 0, copy: 0, activate: 0, verify: 0, confirm: 0, reboot: 0, health: 0, rollback: 0, ready: 0, keys: 0,
};

export function initialView(): RunView {
  return { lastSeq: 0, nodes: [], nodeIndex: new Map(), builds: [], buildIndex: new Map(), waves: [], counts: noCounts, phases: noPhases, ignored: 0 };
}

/** Where a node stands in the phase counts: nowhere once ended. */
function phaseKey(n: NodeView): keyof PhaseCounts | undefined {
  return n.outcome ? undefined : (n.phase ?? 'waiting');
}

const emptyWave = (wave: number): WaveView => ({ wave, nodes: [], state: 'planned', counts: noCounts });

export function nodeOf(view: RunView, name: string): NodeView | undefined {
  const i = view.nodeIndex.get(name);
  return i === undefined ? undefined : view.nodes[i];
}

export function buildOf(view: RunView, id: string): BuildView | undefined {
  const i = view.buildIndex.get(id);
  return i === undefined ? undefined : view.builds[i];
}

/** A streamed apply plans chunk by chunk: the view's plan is every plan so far (a node planned again: the later
 *  word; a build location planned again: its derivations and nodes joined). */
function joinPlans(was: Plan, next: Plan): Plan {
  const names = new Set(next.nodes.map((n) => n.name));
  const builds = new Map(was.builds.map((b) => [b.id, b]));
  for (const b of next.builds) {
    const old = builds.get(b.id);
    builds.set(b.id, old ? { ...b, drvPaths: [...new Set([...old.drvPaths, ...b.drvPaths])].sort(), nodes: [...new Set([...old.nodes, ...b.nodes])] } : b);
  }
  const waves = next.waves ?? was.waves;
  return { ...next, builds: [...builds.values()], nodes: [...was.nodes.filter((n) => !names.has(n.name)), ...next.nodes], ...(waves ? { waves } : {}) };
}

/** Fold a whole event list (tests, replaying a recorded run). */
export function foldEvents(events: Iterable<FleetEvent>, view: RunView = initialView()): RunView {
  let v = view;
  for (const e of events) v = reduceRun(v, e);
  return v;
}

/** Pure: returns a new view (sharing what did not change); `view` is never mutated. */
export function reduceRun(view: RunView, e: FleetEvent): RunView {
  if (view.summary || (view.run !== undefined && e.run !== view.run) || e.seq <= view.lastSeq) {
    return { ...view, ignored: view.ignored + 1 };
  }
  return apply({ ...view, run: e.run, lastSeq: e.seq }, e);
}

function apply(view: RunView, e: FleetEvent): RunView {
  const d = draft(view);
  switch (e.type) {
    case 'run-start':
      for (const name of e.nodes) d.node(name, (n) => n);
      return d.done({ command: e.command, goal: e.goal, fleetVersion: e.fleetVersion, startedAt: view.startedAt ?? e.time });
    case 'plan':
      for (const job of e.plan.builds) {
        d.build(job.id, (b) => ({
          ...b,
          location: job.location,
          // A build that already started says itself what it builds.
          ...(b.state === 'planned' ? { drvPaths: job.drvPaths, nodes: job.nodes } : {}),
        }));
      }
      for (const entry of e.plan.nodes) {
        d.node(entry.name, (n) => ({
          ...n,
          ...(entry.from ? { from: entry.from } : {}),
          to: entry.to,
          ...(entry.buildJob !== undefined ? { build: entry.buildJob } : {}),
          activate: entry.activate,
          reason: entry.reason,
        }));
      }
      e.plan.waves?.forEach((planned, i) => {
        for (const name of planned.nodes) d.node(name, (n) => ({ ...n, wave: i + 1 }));
        d.wave(i + 1, (w) => ({ ...w, maxFailures: planned.maxFailures, ...(w.state === 'planned' ? { nodes: planned.nodes } : {}) }));
      });
      return d.done({ plan: view.plan ? joinPlans(view.plan, e.plan) : e.plan, goal: view.goal ?? e.plan.goal });
    case 'build-start':
      d.build(e.build, (b) => ({ ...b, state: 'running', drvPaths: e.drvPaths, nodes: e.nodes, startedAt: e.time }));
      return d.done();
    case 'build-done':
      d.build(e.build, (b) => ({ ...b, state: 'done', ok: e.ok, ...ended(e) }));
      return d.done();
    case 'node-phase':
      d.node(e.node, (n) => ({ ...n, phase: e.phase, detail: e.detail, phaseSince: e.time, startedAt: n.startedAt ?? e.time }));
      return d.done();
    case 'copy-done':
    case 'cache-upload':
    case 'cache-fallback':
      return d.done(); // bytes are for --metrics-file and NDJSON; the phase lines and the summary's warnings say enough here
    case 'keys':
      return d.done(); // the plain lines and the keys phase's detail say it
    case 'log':
      if (e.node !== undefined) d.node(e.node, (n) => ({ ...n, ...appendedLog(n, e.line) }));
      else if (e.build !== undefined) d.build(e.build, (b) => ({ ...b, ...appendedLog(b, e.line) }));
      return d.done();
    case 'node-done':
      d.node(e.node, ({ error: _error, ...n }) => ({ ...n, outcome: e.outcome, ...ended(e) }));
      return d.done();
    case 'wave-start':
      for (const name of e.nodes) d.node(name, (n) => ({ ...n, wave: e.wave }));
      d.wave(e.wave, (w) => ({ ...w, state: 'running', nodes: e.nodes, startedAt: e.time }));
      return d.done({ paused: undefined });
    case 'wave-done':
      d.wave(e.wave, (w) => ({ ...w, state: 'done', failures: e.failures, verdict: e.verdict, endedAt: e.time }));
      return d.done();
    case 'health':
      d.node(e.node, (n) => ({ ...n, health: { check: e.check, attempt: e.attempt, attempts: e.attempts, ok: e.ok, detail: e.detail } }));
      return d.done();
    case 'review':
      return d.done({ review: e.state });
    case 'paused':
      return d.done({ paused: { wave: e.wave, reason: e.reason } });
    case 'resumed':
      return d.done({ paused: undefined });
    case 'diff':
      for (const name of e.nodes) {
        const system = e.systems[name];
        if (system) d.node(name, (n) => ({ ...n, diff: { added: e.added, removed: e.removed, changed: e.changed, ...system } }));
      }
      return d.done();
    case 'eval-chunk': {
      const was = view.evaluation ?? { chunks: 0, evaluated: 0, peakRss: 0 };
      const answered = e.nodes.length - e.failed.length - e.retried.length;
      return d.done({ evaluation: { ...was, chunks: was.chunks + 1, evaluated: was.evaluated + answered, peakRss: Math.max(was.peakRss, e.peakRss) } });
    }
    case 'eval-done':
      return d.done({ evaluation: { ...view.evaluation, chunks: e.chunks, evaluated: e.nodes, peakRss: e.peakRss, done: e } });
    case 'status': {
      const { type: _t, v: _v, run: _r, seq: _s, time: _time, ...status } = e;
      d.node(e.node, (n) => ({ ...n, status }));
      return d.done();
    }
    case 'doctor-start':
    case 'doctor-check':
    case 'doctor-summary':
    case 'exec-start':
    case 'exec-output':
    case 'exec-done':
    case 'exec-summary':
      return d.done(); // fleet doctor and fleet exec print their own report (src/doctor/render.ts, src/ui/exec-text.ts): no run view
    case 'summary':
      for (const [name, result] of Object.entries(e.nodes)) {
        d.node(name, ({ error: _error, ...n }) => ({
          ...n, outcome: result.outcome, ...(result.error !== undefined ? { error: result.error } : {}), endedAt: n.endedAt ?? e.time,
        }));
      }
      return d.done({ summary: e, endedAt: e.time, command: view.command ?? e.command, goal: view.goal ?? e.goal });
  }
}

/** What a build-done or node-done says of how it ended: its error, its log (replacing any streamed), when. */
function ended(e: { error?: string; log?: readonly string[]; time: string }): { error?: string; log?: readonly string[]; logTotal?: number; endedAt: string } {
  return { ...(e.error !== undefined ? { error: e.error } : {}), ...(e.log ? replacedLog(e.log) : {}), endedAt: e.time };
}

function replacedLog(lines: readonly string[]): { log: readonly string[]; logTotal: number } {
  return { log: lines.slice(-LOG_CAP), logTotal: lines.length };
}

function appendedLog(has: { log: readonly string[]; logTotal: number }, line: string): { log: readonly string[]; logTotal: number } {
  const log = has.log.length >= LOG_CAP ? [...has.log.slice(has.log.length - LOG_CAP + 1), line] : [...has.log, line];
  return { log, logTotal: has.logTotal + 1 };
}

interface Draft {
  /** Change one node (created at the end if unknown), keeping `counts` in step with its outcome. */
  node(name: string, change: (n: NodeView) => NodeView): void;
  build(id: string, change: (b: BuildView) => BuildView): void;
  /** Change wave `wave` (1-based); unknown waves up to it are created, planned and empty. */
  wave(wave: number, change: (w: WaveView) => WaveView): void;
  done(fields?: Partial<RunView>): RunView;
}

// Copy-on-write per event: lists, indexes and counts are copied at most once per event, however many
// nodes it touches (a plan or summary of 10k nodes is one copy, not 10k).
function draft(view: RunView): Draft {
  let nodes: NodeView[] | undefined;
  let nodeIndex: Map<string, number> | undefined;
  let builds: BuildView[] | undefined;
  let buildIndex: Map<string, number> | undefined;
  let counts: Record<keyof Counts, number> | undefined;
  let phases: Record<keyof PhaseCounts, number> | undefined;
  let waves: WaveView[] | undefined;
  // A wave's counts are copied once per event too (a plan placing 10k nodes in waves is one copy per wave).
  const waveCounts = new Map<number, Record<keyof Counts, number>>();
  const wavesUpTo = (wave: number): WaveView[] => {
    waves ??= view.waves.slice();
    while (waves.length < wave) waves.push(emptyWave(waves.length + 1));
    return waves;
  };
  const countInWave = (wave: number | undefined, outcome: keyof Counts, by: number) => {
    if (wave === undefined) return;
    const list = wavesUpTo(wave);
    let c = waveCounts.get(wave);
    if (!c) {
      c = { ...list[wave - 1]!.counts };
      waveCounts.set(wave, c);
      list[wave - 1] = { ...list[wave - 1]!, counts: c };
    }
    c[outcome] += by;
  };
  return {
    node(name, change) {
      nodes ??= view.nodes.slice();
      counts ??= { ...view.counts };
      phases ??= { ...view.phases };
      let i = (nodeIndex ?? view.nodeIndex).get(name);
      if (i === undefined) {
        const fresh: NodeView = { name, log: [], logTotal: 0 };
        i = nodes.push(fresh) - 1;
        (nodeIndex ??= new Map(view.nodeIndex)).set(name, i);
        counts.pending += 1;
        phases.waiting += 1;
      }
      const before = nodes[i]!;
      const after = change(before);
      counts[before.outcome ?? 'pending'] -= 1;
      counts[after.outcome ?? 'pending'] += 1;
      const [from, to] = [phaseKey(before), phaseKey(after)];
      if (from !== to) {
        if (from) phases[from] -= 1;
        if (to) phases[to] += 1;
      }
      if (before.wave !== after.wave || before.outcome !== after.outcome) {
        countInWave(before.wave, before.outcome ?? 'pending', -1);
        countInWave(after.wave, after.outcome ?? 'pending', 1);
      }
      nodes[i] = after;
    },
    build(id, change) {
      builds ??= view.builds.slice();
      let i = (buildIndex ?? view.buildIndex).get(id);
      if (i === undefined) {
        i = builds.push({ id, state: 'planned', drvPaths: [], nodes: [], log: [], logTotal: 0 }) - 1;
        (buildIndex ??= new Map(view.buildIndex)).set(id, i);
      }
      builds[i] = change(builds[i]!);
    },
    wave(wave, change) {
      const list = wavesUpTo(wave);
      list[wave - 1] = change(list[wave - 1]!);
      const c = waveCounts.get(wave);
      if (c) list[wave - 1] = { ...list[wave - 1]!, counts: c }; // a change never replaces what the nodes counted
    },
    done(fields = {}) {
      return {
        ...view,
        ...fields,
        nodes: nodes ?? view.nodes,
        nodeIndex: nodeIndex ?? view.nodeIndex,
        builds: builds ?? view.builds,
        buildIndex: buildIndex ?? view.buildIndex,
        waves: waves ?? view.waves,
        counts: counts ?? view.counts,
        phases: phases ?? view.phases,
      };
    },
  };
}
