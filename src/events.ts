// The event contract (NDJSON with --json, version 2; schema/events.schema.json): plan and deploy emit
// these, every renderer only ever sees these.
import { randomBytes } from 'node:crypto';
import type { PackageChange } from './diff/closure.js';
import type { DiffGroup } from './diff/group.js';
import type { CheckCounts, CheckResult, DoctorHost, DoctorRole } from './doctor/types.js';
import type { Phase } from './errors.js';
import type { Goal } from './goal.js';
import type { Plan } from './plan/types.js';
import type { NodeStatus } from './status/classify.js';

export const EVENTS_VERSION = 2;

/** Final per-node outcome: the summary and the exit code derive from these. */
export type Outcome =
  | 'unchanged'
  | 'activated'
  | 'built'
  | 'pushed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'failed'
  | 'skipped'
  /** Another live run holds the target's lock: not touched. */
  | 'locked'
  | 'held' // a staged rollout stopped before this node's wave: never touched
  /** `fleet reboot`: rebooted, back on its boot default, healthy. */
  | 'rebooted'
  /** Rebooted (--reboot, fleet reboot) and not back within the deadline: its state is unknown (exit 3). */
  | 'unreachable-after-reboot';

/** Why a node ended so, where its outcome alone cannot say: `deployer-overloaded`, fleet's own machine was too busy
 *  to make (or even attempt) the magic-rollback confirmation in time, not the node. */
export type NodeCause = 'deployer-overloaded';

/** Outcomes that make a run exit non-zero and that the report shows a log for. */
export const FAILED_OUTCOMES: readonly Outcome[] = ['failed', 'rolled-back', 'rollback-failed', 'locked', 'held', 'unreachable-after-reboot'];

/** How `fleet exec` ended on a node: exit 0, another exit code, its --timeout, no connection, Ctrl+C (the remote
 *  command ended too), not started (Ctrl+C before its turn), or held (a staged exec stopped before its wave). */
export type ExecOutcome = 'ok' | 'failed' | 'timed-out' | 'unreachable' | 'interrupted' | 'skipped' | 'held';

/** One node's end in `fleet exec`: the exit code when the command ended with one, how long it ran. */
export interface ExecResult {
  outcome: ExecOutcome;
  exitCode?: number;
  durationMs?: number;
  error?: string;
}

/** Nodes that ended alike (same outcome, and for `ok`/`failed`/`timed-out` the same exit code), in fleet-file order. */
export interface ExecGroup {
  outcome: ExecOutcome;
  exitCode?: number;
  nodes: string[];
}

export type OutputStream = 'stdout' | 'stderr';

/** How a wave ended: within its failure budget, over it, or cut short by Ctrl+C / SIGTERM / SIGHUP. */
export type WaveVerdict = 'passed' | 'failed' | 'interrupted';

/** How an evaluation chunk ended: all its nodes answered, Nix failed, fleet ended it (over the memory budget), or Ctrl+C. */
export type EvalChunkEnd = 'done' | 'failed' | 'over-budget' | 'interrupted';

export type ReviewState = 'waiting' | 'approved' | 'declined';
export type PauseReason = 'requested' | 'confirm';

/** How a copy went: from the deployer, directly from the build host, relayed through the deployer, or fetched by the target from the fleet's cache. */
export type CopyDoneRoute = 'from-local' | 'direct' | 'relay' | 'cache';

export type Command = 'apply' | 'plan' | 'diff' | 'status' | 'rollback' | 'keys' | 'reboot';

/** What every event carries: the contract version, the run it belongs to, its place in the run, when. */
export interface Envelope {
  v: typeof EVENTS_VERSION;
  run: string;
  seq: number; // 1, 2, 3... per run, no gaps
  time: string; // ISO 8601
}

export type EventBody =
  | { type: 'run-start'; command: Command; goal: Goal; nodes: string[]; fleetVersion: string }
  /** Before any node is copied to or activated; builds may already run (they change no target). */
  | { type: 'plan'; plan: Plan }
  /** `build` is the BuildJob id of the plan ("local", "builder:big", "node:web-1"...). */
  | { type: 'build-start'; build: string; drvPaths: string[]; nodes: string[] }
  | { type: 'build-done'; build: string; ok: boolean; error?: string; log?: string[] }
  | { type: 'node-phase'; node: string; phase: Phase; detail: string }
  /** A closure reached its target: `paths` nix-copy-closure sent (those missing there), `bytes` their NAR size when known. */
  | { type: 'copy-done'; node: string; route: CopyDoneRoute; paths: number; bytes?: number }
  /** The cache route's upload of one system's closure, once per run, before any node fetches it: `paths` sent, `skipped` the
   *  cache had; failed: `error`. */
  | { type: 'cache-upload'; url: string; closures: number; ok: boolean; paths: number; skipped: number; bytes?: number; error?: string }
  /** A node on the cache route could not fetch from the cache: it is pushed to instead (`copy: cache`), `reason` says why. */
  | { type: 'cache-fallback'; node: string; reason: string }
  /** A node's keys against its target, by hash only: `changed` (names) go up, `unchanged` stay as they are, `removed` (paths) are
   *  files fleet wrote that no key wants any more. `uploadAt`: which of an apply's two uploads this is; absent: all the node's keys
   *  (`fleet plan`, `fleet keys`). */
  | { type: 'keys'; node: string; changed: string[]; unchanged: number; removed: string[]; uploadAt?: 'pre-activation' | 'post-activation' }
  /** --verbose: build or activation output as it comes; exactly one of node and build. */
  | { type: 'log'; node?: string; build?: string; line: string }
  | { type: 'node-done'; node: string; outcome: Outcome; error?: string; log?: string[]; cause?: NodeCause }
  /** A staged rollout starts wave `wave` (1-based, as in the plan's `waves`). */
  | { type: 'wave-start'; wave: number; nodes: string[] }
  /** Every node of the wave settled: `failures` against the plan's `maxFailures` gave the verdict. */
  | { type: 'wave-done'; wave: number; failures: number; verdict: WaveVerdict }
  /** One attempt of one health check (`attempt` of at most `attempts`); `detail`: how it ended and its last output. */
  | { type: 'health'; node: string; check: string; attempt: number; attempts: number; ok: boolean; detail: string }
  /** `-i`: the plan waits for the person at the terminal, who deploys it or leaves with nothing touched. */
  | { type: 'review'; state: ReviewState }
  /** A staged rollout waits before wave `wave`: asked for at the terminal (key p) or by `rollout.pause: confirm`. */
  | { type: 'paused'; wave: number; reason: PauseReason }
  | { type: 'resumed'; wave: number }
  /** `fleet diff` (and `fleet plan`, where the new system is already built; `-i` while the plan waits): nodes whose closures change alike. */
  | { type: 'diff'; nodes: string[]; added: PackageChange[]; removed: PackageChange[]; changed: PackageChange[]; systems: DiffGroup['systems'] }
  /** One evaluation chunk ended: a nix-instantiate process of `nodes` in worker slot `worker`. */
  | {
      type: 'eval-chunk';
      chunk: number;
      worker: number;
      nodes: string[];
      failed: string[];
      retried: string[];
      wallMs: number;
      peakRss: number;
      ended: EvalChunkEnd;
    }
  /** Every node evaluated (or failed): the whole evaluation in numbers. */
  | { type: 'eval-done'; nodes: number; failed: number; chunks: number; workers: number; peakRss: number; wallMs: number; budget?: number; alone: string[] }
  /** `fleet status`: one per node that evaluated, asked or not (unreachable). */
  | ({ type: 'status' } & NodeStatus)
  /** `fleet doctor` (its own stream, no run-start/summary): first, the machines it looks at, in report order. */
  | { type: 'doctor-start'; hosts: DoctorHost[]; fleetVersion: string }
  /** One check of one machine: ok, or what is wrong (`detail`) and what to do (`fix`). */
  | ({ type: 'doctor-check'; host: string; role: DoctorRole } & CheckResult)
  /** Last: exit 0 when no check failed, 1 when one did, 130 when interrupted. */
  | { type: 'doctor-summary'; exitCode: number; durationMs: number; interrupted: boolean; checks: CheckCounts }
  /** `fleet exec` (its own stream, no run-start/summary): first; the command as run (--shell: `sh -c TEXT`), on these nodes. */
  | { type: 'exec-start'; command: string[]; sudo: boolean; timeoutMs?: number; nodes: string[]; fleetVersion: string }
  /** One line the command printed on a node, as it came (blank lines too; the newline dropped). */
  | { type: 'exec-output'; node: string; stream: OutputStream; line: string }
  /** The command ended on a node (or never started there). */
  | ({ type: 'exec-done'; node: string } & ExecResult)
  /** Last: exit 0 when every node exited 0, 1 when one did not, 130 when interrupted. */
  | { type: 'exec-summary'; exitCode: number; durationMs: number; interrupted: boolean; nodes: Record<string, ExecResult>; groups: ExecGroup[] }
  | {
      type: 'summary';
      command: Command;
      goal: Goal;
      exitCode: number;
      durationMs: number;
      interrupted: boolean;
      nodes: Record<string, { outcome: Outcome; error?: string; cause?: NodeCause }>;
    };

export type FleetEvent = EventBody & Envelope;
export type EventOf<T extends FleetEvent['type']> = Extract<FleetEvent, { type: T }>;
export type BodyOf<T extends EventBody['type']> = Extract<EventBody, { type: T }>;

/** What plan and deploy call: they say what happened, the stream stamps it. */
export type EmitEvent = (body: EventBody) => void;

/** A run id that sorts by time and cannot collide between two deployers: 20261121T091502Z-3fa9c1d2. */
export function newRunId(now = new Date()): string {
  const stampText = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stampText}-${randomBytes(4).toString('hex')}`;
}

/** The one place events get their envelope: version, run id, sequence number, time. */
export function createEventStream(run: string, sink: (e: FleetEvent) => void, now: () => Date = () => new Date()): EmitEvent {
  let seq = 0;
  return (body) => sink({ ...body, v: EVENTS_VERSION, run, seq: ++seq, time: now().toISOString() } as FleetEvent);
}

/** Reads `--json` output back: one event per line (the NDJSON contract). */
export function readEventLines(stdout: string): FleetEvent[] {
  return stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as FleetEvent);
}
