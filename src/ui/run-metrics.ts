// `fleet apply --metrics-file`: the run's metrics from its events alone (as every renderer), written once it
// ends: time per phase, nodes per outcome, waves, bytes copied, the exit code.
import type { Phase } from '../errors.js';
import type { EventOf, FleetEvent, Outcome, WaveVerdict } from '../events.js';
import { epochSeconds, formatExposition, type MetricFamily } from './prometheus.js';

// Records, not lists: adding a phase, outcome or verdict to the contract is a compile error here until it is counted.
const PHASES: Record<Phase, true> = { evaluate: true, connect: true, query: true, build: true, copy: true, activate: true, verify: true, confirm: true, health: true, rollback: true, ready: true, keys: true, reboot: true };
const OUTCOMES: Record<Outcome, true> = { unchanged: true, activated: true, built: true, pushed: true, 'rolled-back': true, 'rollback-failed': true, failed: true, skipped: true, locked: true, held: true, rebooted: true, 'unreachable-after-reboot': true };
const VERDICTS: Record<WaveVerdict, true> = { passed: true, failed: true, interrupted: true };

type Interval = [start: number, end: number];

/** Seconds covered by at least one interval: phases of nodes running side by side count once. */
export function coveredSeconds(intervals: readonly Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: Interval | undefined;
  for (const [start, end] of sorted) {
    if (current && start <= current[1]) current[1] = Math.max(current[1], end);
    else {
      if (current) total += current[1] - current[0];
      current = [start, end];
    }
  }
  if (current) total += current[1] - current[0];
  return total / 1000;
}

export interface RunMetrics {
  onEvent(e: FleetEvent): void;
  /** The exposition text; exitCode is the process's when the run ended without a summary (fleet's own error). */
  render(exitCode: number): string;
}

export function createRunMetrics(): RunMetrics {
  const intervals = new Map<Phase, Interval[]>();
  // What each node (`node:<name>`) or build (`build:<id>`) is doing since when.
  const open = new Map<string, { phase: Phase; since: number }>();
  const verdicts = new Map<WaveVerdict, number>();
  let start: EventOf<'run-start'> | undefined;
  let summary: EventOf<'summary'> | undefined;
  let waves: number | undefined;
  let copied: { bytes: number; known: boolean } | undefined;
  let last = 0;

  const close = (key: string, at: number) => {
    const was = open.get(key);
    if (!was) return;
    open.delete(key);
    intervals.set(was.phase, [...(intervals.get(was.phase) ?? []), [was.since, at]]);
  };

  return {
    onEvent(e) {
      const at = Date.parse(e.time);
      last = Math.max(last, at);
      switch (e.type) {
        case 'run-start':
          start = e;
          break;
        case 'plan':
          waves = e.plan.waves?.length;
          break;
        case 'node-phase':
          close(`node:${e.node}`, at);
          open.set(`node:${e.node}`, { phase: e.phase, since: at });
          break;
        case 'node-done':
          close(`node:${e.node}`, at);
          break;
        case 'build-start':
          open.set(`build:${e.build}`, { phase: 'build', since: at });
          break;
        case 'build-done':
          close(`build:${e.build}`, at);
          break;
        case 'copy-done':
          copied = { bytes: (copied?.bytes ?? 0) + (e.bytes ?? 0), known: (copied?.known ?? true) && e.bytes !== undefined };
          break;
        case 'wave-done':
          verdicts.set(e.verdict, (verdicts.get(e.verdict) ?? 0) + 1);
          break;
        case 'summary':
          summary = e;
          break;
        default:
          break;
      }
    },
    render(exitCode) {
      for (const key of [...open.keys()]) close(key, last);
      const goal = { goal: summary?.goal ?? start?.goal ?? 'switch' };
      const outcomes = Object.values(summary?.nodes ?? {}).map((n) => n.outcome);
      const families: MetricFamily[] = [
        {
          name: 'fleet_apply_phase_seconds', type: 'gauge',
          help: 'Seconds during which at least one node (or build) of the run was in this phase.',
          samples: (Object.keys(PHASES) as Phase[]).map((phase) => ({ labels: { ...goal, phase }, value: coveredSeconds(intervals.get(phase) ?? []) })),
        },
        {
          name: 'fleet_apply_nodes', type: 'gauge',
          help: 'Nodes of the run per final outcome.',
          samples: (Object.keys(OUTCOMES) as Outcome[]).map((outcome) => ({ labels: { ...goal, outcome }, value: outcomes.filter((o) => o === outcome).length })),
        },
        {
          name: 'fleet_apply_copied_bytes', type: 'gauge',
          help: 'Bytes (NAR size) of the store paths copied to targets; absent when a copy could not tell.',
          samples: copied?.known ? [{ labels: goal, value: copied.bytes }] : [],
        },
        {
          name: 'fleet_apply_waves', type: 'gauge',
          help: 'Waves the staged rollout planned (0: not staged).',
          samples: [{ labels: goal, value: waves ?? 0 }],
        },
        {
          name: 'fleet_apply_waves_done', type: 'gauge',
          help: 'Waves that ended, per verdict.',
          samples: (Object.keys(VERDICTS) as WaveVerdict[]).map((verdict) => ({ labels: { ...goal, verdict }, value: verdicts.get(verdict) ?? 0 })),
        },
        {
          name: 'fleet_apply_duration_seconds', type: 'gauge',
          help: 'How long the run took.',
          samples: [{ labels: goal, value: summary ? summary.durationMs / 1000 : start ? (last - Date.parse(start.time)) / 1000 : 0 }],
        },
        {
          name: 'fleet_apply_exit_code', type: 'gauge',
          help: "The run's exit code (0 success, 1 nodes failed, 3 a node needs a look, 130 interrupted).",
          samples: [{ labels: goal, value: summary?.exitCode ?? exitCode }],
        },
        {
          name: 'fleet_apply_end_timestamp_seconds', type: 'gauge',
          help: 'When the run ended, in seconds since the epoch.',
          samples: [{ labels: goal, value: epochSeconds(new Date(last)) }],
        },
      ];
      return formatExposition(families);
    },
  };
}
