// Line renderer for CI and pipes: one timestamped line per state change (per node for the plan), then the report.
// A large fleet (scale.ts) gets progress lines instead of a line per node change: counts per phase and wave, the
// nodes in flight, and a line for every failure as it happens; each node's own story is in --json and the report.
import type { FleetEvent } from '../events.js';
import { describeChange } from '../keys/protocol.js';
import { formatList } from '../select/messages.js';
import { formatBytes, formatCounts, formatGroupDelta, formatNodeNames } from '../diff/format.js';
import { describeAlone, describeEvalChunk, describeEvalDone } from './eval-text.js';
import { describeHealth, describePhase, firstLine, formatClock } from './labels.js';
import { countOf } from '../util/text.js';
import { describeNodePlan, describePlan, describeWave } from './plan-text.js';
import type { Renderer } from './renderer.js';
import { formatReport } from './report.js';
import { forTerminal } from '../util/terminal-text.js';
import { currentWaveOf, describeInFlight, describeProgress, describeWaveProgress, isScaled, NAMED_FAILURES } from './scale.js';
import { initialView, reduceRun, type RunView } from './view.js';
import { guardOutput, isOutputBroken, writeText } from './write.js';

const phaseWidth = 'rolling back'.length;

type Line = [subject: string, phase: string, detail?: string];

export interface PlainOptions {
  /** A large fleet: at most one progress line per this many ms (default 5000), by the events' clock or a timer. */
  progressEveryMs?: number;
}

export function createPlainRenderer(out: NodeJS.WritableStream, opts: PlainOptions = {}): Renderer {
  guardOutput(out);
  const every = opts.progressEveryMs ?? 5000;
  let view = initialView();
  let subjectWidth = 0;
  let scaled = false;
  let last = Promise.resolve();
  const write = (text: string) => {
    if (!isOutputBroken(out)) last = writeText(out, text);
  };
  const format = (clock: string, lines: Line[]) => lines.map(([subject, phase, detail = '']) =>
    forTerminal(`${clock} ${subject.padEnd(subjectWidth)}  ${phase.padEnd(phaseWidth)}  ${detail}`.trimEnd()));
  // Progress of a large fleet: changes are gathered and shown at most once per `every` ms.
  let changed = false;
  let shownAt = Number.NEGATIVE_INFINITY; // the events' clock when progress was last shown
  let timer: NodeJS.Timeout | undefined;
  const showProgress = (at: Date) => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!changed || view.summary) return;
    changed = false;
    shownAt = at.getTime();
    write(`${format(formatClock(at.toISOString()), progressLines(view)).join('\n')}\n`);
  };
  let timerDue = false;
  const progressed = (e: FleetEvent) => {
    changed = true;
    const at = Date.parse(e.time);
    const due = at - shownAt >= every;
    if (timer && (timerDue || !due)) return;
    if (timer) clearTimeout(timer);
    // Due: after the rest of this burst (its events come together), so the line shows where the burst left things.
    // Not yet: by a timer, for no event may come for a while (long activations) and the log still moves on.
    timerDue = due;
    timer = setTimeout(() => showProgress(due ? new Date(at) : new Date(shownAt + every)), due ? 0 : every);
    timer.unref();
  };
  return {
    onEvent(e) {
      const before = view;
      view = reduceRun(view, e);
      if (view.lastSeq === before.lastSeq) return; // not part of this run (or after its summary)
      if (e.type === 'run-start') {
        scaled = isScaled(e.nodes.length);
        // Node lines align; longer subjects (builds) just push their own line right.
        subjectWidth = Math.max('fleet'.length, ...(scaled ? [] : e.nodes.map((n) => n.length)));
      }
      // Every line whole (clock, subject): `grep web-1` in a CI log shows a node's whole story, plan included.
      const lines = scaled ? describeScaledEvent(e, view) : describeEvent(e, view);
      if (lines === 'progress') return progressed(e);
      write(`${format(formatClock(e.time), lines).join('\n')}\n`);
    },
    async finish() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await last;
      write(formatReport(view));
      await last;
    },
    get outputBroken() {
      return isOutputBroken(out);
    },
    get view() {
      return view;
    },
  };
}

function describeEvent(e: FleetEvent, view: RunView): Line[] {
  const waveCount = view.waves.length;
  switch (e.type) {
    case 'run-start':
      return [['fleet', e.command === 'apply' ? e.goal : `${e.command} ${e.goal}`, `${countOf(e.nodes.length, 'node')}: ${e.nodes.join(', ')}`]];
    case 'plan':
      return [
        ['fleet', 'plan', describePlan(e.plan)],
        ...e.plan.nodes.map((n): Line => [n.name, 'plan', describeNodePlan(n)]),
        ...(e.plan.waves ?? []).map((w, i): Line => ['fleet', 'plan', describeWave(w, i + 1)]),
      ];
    case 'build-start':
      return [[`build@${e.build}`, 'building', `${countOf(e.drvPaths.length, 'derivation')} for ${e.nodes.join(', ')}`]];
    case 'build-done':
      return [[`build@${e.build}`, e.ok ? 'built' : 'build failed', firstLine(e.error ?? '')]];
    case 'node-phase':
      return [[e.node, describePhase(e.phase), e.detail]];
    case 'keys':
      return [[e.node, 'keys', `${describeChange({ changed: e.changed.length, unchanged: e.unchanged, removed: e.removed.length })}${e.changed.length > 0 ? `: ${formatList(e.changed)}` : ''}`]];
    case 'copy-done':
      return [[e.node, e.route === 'cache' ? 'fetched' : 'copied', `${countOf(e.paths, 'path')}${e.bytes !== undefined ? `, ${formatBytes(e.bytes)}` : ''}${e.route === 'cache' ? ' from the cache' : ''}`]];
    case 'cache-upload':
      return [['fleet', e.ok ? 'uploaded' : 'upload failed', e.ok
        ? `${countOf(e.paths, 'path')}${e.bytes !== undefined ? `, ${formatBytes(e.bytes)}` : ''} to ${e.url} (${e.skipped} already there)`
        : `${e.url}: ${firstLine(e.error ?? '')}`]];
    case 'cache-fallback':
      return [[e.node, 'warning', `pushed instead of fetched from the cache: ${e.reason}`]];
    case 'node-done':
      return [[e.node, e.outcome, firstLine(e.error ?? '')]];
    case 'log':
      return [[e.node ?? `build@${e.build ?? '?'}`, '|', e.line]];
    case 'wave-start':
      return [['fleet', 'wave', `${e.wave} of ${waveCount} started: ${countOf(e.nodes.length, 'node')}: ${formatList(e.nodes)}`]];
    case 'wave-done':
      return [['fleet', 'wave', `${e.wave} of ${waveCount} ${e.verdict}: ${countOf(e.failures, 'failure')}${allowed(view.waves[e.wave - 1]?.maxFailures)}`]];
    case 'health':
      return [[e.node, 'health', describeHealth(e)]];
    case 'review':
      return [['fleet', 'review', e.state === 'waiting' ? 'waiting for the plan to be approved' : e.state]];
    case 'paused':
      return [['fleet', 'paused', `before wave ${e.wave} of ${waveCount}${e.reason === 'confirm' ? ' (rollout.pause: confirm)' : ''}`]];
    case 'resumed':
      return [['fleet', 'resumed', `wave ${e.wave} of ${waveCount} starts`]];
    case 'diff':
      return [['fleet', 'diff', `${formatNodeNames(e.nodes)}: ${formatCounts(e)}, ${formatGroupDelta(e)}`]];
    case 'eval-chunk':
      return [['fleet', 'evaluate', describeEvalChunk(e)]];
    case 'eval-done':
      return [['fleet', 'evaluated', describeEvalDone(e)], ...e.alone.map((node): Line => ['fleet', 'warning', describeAlone(node, e.budget)])];
    case 'status':
      return [[e.node, e.state, e.reason]];
    case 'summary':
      return [['fleet', 'done', `exit code ${e.exitCode}`]];
    case 'doctor-start':
    case 'doctor-check':
    case 'doctor-summary':
    case 'exec-start':
    case 'exec-output':
    case 'exec-done':
    case 'exec-summary':
      return []; // fleet doctor and fleet exec print their own report
  }
}

/** A large fleet: no line per node change (`progress`: counted), but every failure, build, wave and prompt. */
function describeScaledEvent(e: FleetEvent, view: RunView): Line[] | 'progress' {
  switch (e.type) {
    case 'run-start':
      return [['fleet', e.command === 'apply' ? e.goal : `${e.command} ${e.goal}`, `${countOf(e.nodes.length, 'node')}: ${formatList(e.nodes)}`]];
    case 'plan':
      return [['fleet', 'plan', describePlan(e.plan)], ...(e.plan.waves ?? []).map((w, i): Line => ['fleet', 'plan', describeWave(w, i + 1)])];
    case 'build-start':
      return [[`build@${e.build}`, 'building', `${countOf(e.drvPaths.length, 'derivation')} for ${formatList(e.nodes)}`]];
    case 'node-done':
      return NAMED_FAILURES.has(e.outcome) ? [[e.node, e.outcome, firstLine(e.error ?? '')]] : 'progress';
    case 'node-phase':
    case 'health':
      return 'progress';
    default:
      return describeEvent(e, view);
  }
}

/** `fleet progress 480 of 500 done: …` and, while any, the nodes in flight. */
function progressLines(view: RunView): Line[] {
  const wave = view.waves.length > 0 ? currentWaveOf(view) : undefined;
  const inFlight = describeInFlight(view);
  return [
    ['fleet', 'progress', describeProgress(view)],
    ...(wave ? [['fleet', 'progress', describeWaveProgress(wave, view.waves.length)] as Line] : []),
    ...(inFlight ? [['fleet', 'progress', inFlight] as Line] : []),
  ];
}

function allowed(budget: number | undefined): string {
  return budget === undefined ? '' : `, ${budget} allowed`;
}
