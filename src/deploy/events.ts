// What a deployment emits; renderers (listr2, plain lines, NDJSON) only ever see these.
import type { Phase } from '../errors.js';

export type Goal = 'switch' | 'boot' | 'test' | 'dry-activate' | 'build' | 'push';

/** Final per-node outcome (issue 3): the JSON summary and exit code derive from these. */
export type Outcome =
  | 'unchanged'
  | 'activated'
  | 'built'
  | 'pushed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'failed'
  | 'skipped';

/** Outcomes that make a run exit non-zero and that the report shows a log for. */
export const FAILED_OUTCOMES: readonly Outcome[] = ['failed', 'rolled-back', 'rollback-failed'];

export type FleetEvent =
  | { type: 'run-start'; time: string; goal: Goal; nodes: string[] }
  | { type: 'build-start'; time: string; buildHost: string; drvPaths: string[]; nodes: string[] }
  | { type: 'build-done'; time: string; buildHost: string; ok: boolean; error?: string; log?: string[] }
  | { type: 'node-phase'; time: string; node: string; phase: Phase; detail: string }
  | { type: 'log'; time: string; subject: string; line: string } // --verbose: build and activation output as it comes
  | { type: 'node-done'; time: string; node: string; outcome: Outcome; error?: string; log?: string[] }
  | {
      type: 'summary';
      time: string;
      goal: Goal;
      exitCode: number;
      durationMs: number;
      interrupted: boolean;
      nodes: Record<string, { outcome: Outcome; error?: string }>;
    };

export type EventOf<T extends FleetEvent['type']> = Extract<FleetEvent, { type: T }>;
export type EmitEvent = (event: FleetEvent) => void;

type WithoutTime<T> = T extends unknown ? Omit<T, 'time'> : never;

/** Stamp an event with the current time (ISO 8601). */
export function stamp(event: WithoutTime<FleetEvent>): FleetEvent {
  return { ...event, time: new Date().toISOString() } as FleetEvent;
}

/** Reads `fleet apply --json` output back: one event per line (the NDJSON contract). */
export function readEventLines(stdout: string): FleetEvent[] {
  return stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as FleetEvent);
}
