// The run's state, in one explicit object passed to every stage: no module-level registry.
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { FAILED_OUTCOMES, type EmitEvent, type Outcome } from '../events.js';
import { goalTraits, type Goal, type GoalTraits } from '../goal.js';
import { createAgentClient } from '../agent/client.js';
import { deployerIdentity, type LockIdentity } from '../agent/lock.js';
import type { TargetState } from '../agent/state.js';
import type { RecordContext, RecordKind } from '../records/record.js';
import type { LoadedKeys } from '../keys/sources.js';
import type { RolloutOptions } from '../rollout/options.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { linkedStop } from '../util/abort.js';
import type { Review, WaveGate } from './steering.js';
import { createLockKeeper, lockRunner, type LockKeeper } from '../lock/keeper.js';

export interface ExecuteOptions {
  goal: Goal;
  force: boolean;
  parallel: number;
  /** Builds at once on the deployer and on targets; builders use their maxJobs. Default: auto (CPU count). */
  maxJobs?: number | 'auto';
  keepGoing: boolean;
  useSubstitutes: boolean;
  showTrace: boolean;
  verbose?: boolean;
  /** false: --no-magic-rollback for every node; undefined: each node's `magicRollback`. */
  magicRollback?: boolean;
  /** --confirm-timeout: overrides every node's `confirmTimeout`. */
  confirmTimeoutMs?: number;
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  /** The user's Ctrl+C / SIGTERM. */
  signal: AbortSignal;
  /** Take the targets' locks even when another live run holds them (--break-lock). */
  breakLock?: boolean;
  /** Waves, failure budget, onFailure, pause, --yes, --skip-health-checks (src/rollout/options.ts); the plan holds the waves. */
  rollout?: RolloutOptions;
  /** `-i`: the plan waits here for approval (src/deploy/steering.ts); absent: no review. */
  review?: Review;
  /** Where each wave waits when a pause was asked for (`-i`, key p) or `pause: confirm` (-i's steering, or the
   *  terminal question of src/cli/confirm.ts). */
  waveGate?: WaveGate;
  /** apply: each verified activation (and each undoing of one) is recorded on its target; absent: nothing is. */
  records?: Promise<RecordContext>;
  /** `rollback` (fleet rollback, set from its SystemSource): the run's activations are recorded as rollbacks, once healthy. */
  recordKind?: RecordKind;
  /** The selected nodes' keys, read on the deployer before any target was touched; absent: the fleet has none. */
  keys?: LoadedKeys;
}

export interface NodeResult {
  outcome: Outcome;
  error?: string;
}

export interface RunState {
  readonly id: string;
  readonly goal: Goal;
  readonly traits: GoalTraits;
  readonly fleet: ResolvedFleet;
  readonly nodes: ReadonlyMap<string, ResolvedNode>;
  readonly options: ExecuteOptions;
  readonly emit: EmitEvent;
  /** Aborted by Ctrl+C or, without --keep-going, by the first failure: nothing new starts after it. */
  readonly stop: AbortController;
  readonly results: Map<string, NodeResult>;
  /** Nodes mid-activation: a forced quit cannot promise their state. */
  readonly activating: Set<string>;
  /** What each target reported when probed (filled in once the probes are done). */
  readonly targets: Map<string, TargetState>;
  /** Who this run is in the targets' lock records. */
  readonly lockIdentity: LockIdentity;
  /** The targets' locks this run holds: renewed while it lives, released at its end. */
  readonly locks: LockKeeper;
  readonly startedAt: number;
  /** A staged rollout: each wave's failure budget decides, not fail-fast. */
  readonly staged: boolean;
  /** Nodes whose deploy record this run wrote: an undoing of theirs is recorded too. */
  readonly recorded: Set<string>;
  /** For stderr at the end (records that could not be written). */
  readonly warnings: string[];
}

export function createRunState(id: string, fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: ExecuteOptions): RunState {
  const stop = linkedStop(options.signal);
  const lockIdentity: LockIdentity = { run: id, by: deployerIdentity(), pid: process.pid };
  return {
    id,
    goal: options.goal,
    traits: goalTraits(options.goal),
    fleet,
    nodes: new Map(nodes.map((n) => [n.name, n])),
    options,
    emit: options.emit,
    stop,
    results: new Map(),
    activating: new Set(),
    targets: new Map(),
    lockIdentity,
    locks: createLockKeeper({ identity: lockIdentity, run: lockRunner((node) => createAgentClient(options.pool.targetOf(node), { id, lock: lockIdentity })) }),
    startedAt: Date.now(),
    staged: !!options.rollout?.staged && goalTraits(options.goal).activates,
    recorded: new Set(),
    warnings: [],
  };
}

/** A node's final word; the first one counts. A failure stops the run unless --keep-going (`locked` never does). */
export function finishNode(run: RunState, node: string, outcome: Outcome, error?: string, log?: string[]): void {
  if (run.results.has(node)) return;
  run.results.set(node, { outcome, ...(error ? { error } : {}) });
  run.emit({ type: 'node-done', node, outcome, ...(error ? { error } : {}), ...(log?.length ? { log } : {}) });
  // A node another run holds is no failure of this run's work: fail-fast goes on with the others.
  if (FAILED_OUTCOMES.includes(outcome) && outcome !== 'locked' && !run.options.keepGoing && !run.staged) run.stop.abort();
}

/** A later, final word on a node that already had one: an earlier wave rolled back by `rollback-all`. */
export function reviseNode(run: RunState, node: string, outcome: Outcome, error?: string, log?: string[]): void {
  run.results.set(node, { outcome, ...(error ? { error } : {}) });
  run.emit({ type: 'node-done', node, outcome, ...(error ? { error } : {}), ...(log?.length ? { log } : {}) });
}

/** Why a node that has not started its next step never will. */
export function stopReason(run: RunState): string {
  return run.options.signal.aborted ? 'interrupted before it started' : 'not started: an earlier node failed (use --keep-going to continue past failures)';
}
