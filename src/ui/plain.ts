// Line renderer for CI and pipes: one timestamped line per state change (per node for the plan), then the report.
import type { FleetEvent } from '../events.js';
import { formatList } from '../select/messages.js';
import { formatBytes, formatCounts, formatGroupDelta, formatNodeNames } from '../diff/format.js';
import { describeAlone, describeEvalChunk, describeEvalDone } from './eval-text.js';
import { describeHealth, describePhase, firstLine, formatClock } from './labels.js';
import { countOf } from '../util/text.js';
import { describeNodePlan, describePlan, describeWave } from './plan-text.js';
import type { Renderer } from './renderer.js';
import { formatReport } from './report.js';
import { forTerminal } from '../util/terminal-text.js';
import { initialView, reduceRun, type RunView } from './view.js';
import { guardOutput, isOutputBroken, writeText } from './write.js';

const phaseWidth = 'rolling back'.length;

type Line = [subject: string, phase: string, detail?: string];

export function createPlainRenderer(out: NodeJS.WritableStream): Renderer {
  guardOutput(out);
  let view = initialView();
  let subjectWidth = 0;
  let last = Promise.resolve();
  const write = (text: string) => {
    if (!isOutputBroken(out)) last = writeText(out, text);
  };
  return {
    onEvent(e) {
      const before = view;
      view = reduceRun(view, e);
      if (view.lastSeq === before.lastSeq) return; // not part of this run (or after its summary)
      // Node lines align; longer subjects (builds) just push their own line right.
      if (e.type === 'run-start') subjectWidth = Math.max('fleet'.length, ...e.nodes.map((n) => n.length));
      const clock = formatClock(e.time);
      // Every line whole (clock, subject): `grep web-1` in a CI log shows a node's whole story, plan included.
      const lines = describeEvent(e, view).map(([subject, phase, detail = '']) =>
        forTerminal(`${clock} ${subject.padEnd(subjectWidth)}  ${phase.padEnd(phaseWidth)}  ${detail}`.trimEnd()));
      write(`${lines.join('\n')}\n`);
    },
    async finish() {
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
    case 'copy-done':
      return [[e.node, 'copied', `${countOf(e.paths, 'path')}${e.bytes !== undefined ? `, ${formatBytes(e.bytes)}` : ''}`]];
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
      return []; // fleet doctor prints its own report
  }
}

function allowed(budget: number | undefined): string {
  return budget === undefined ? '' : `, ${budget} allowed`;
}
