// How one deploy run goes, decided once before it starts (the CLI maps its flags and the fleet file to it:
// src/cli/apply-policy.ts) and only read from then on.
import type { ResolvedNode } from '../config/types.js';
import type { GoalTraits, Goal } from '../goal.js';
import type { RecordContext, RecordKind } from '../records/record.js';
import type { RebootOptions } from '../reboot/types.js';
import type { RolloutOptions } from '../rollout/options.js';
import type { Review, WaveGate } from './steering.js';

export interface DeployPolicy {
  readonly goal: Goal;
  readonly traits: GoalTraits;
  /** Activate even nodes already running the desired system. */
  readonly force: boolean;
  readonly showTrace: boolean;
  /** Take the targets' locks even when another live run holds them (--break-lock). */
  readonly breakLock: boolean;
  /** Copies, and activations, at once. */
  readonly parallel: number;
  /** Builds at once on the deployer and on targets; builders use their maxJobs. */
  readonly maxJobs: number | 'auto';
  readonly useSubstitutes: boolean;
  /** Build and activation output as it comes, as `log` events. */
  readonly verbose: boolean;
  /** The first failure stops the run: not with --keep-going, nor in a staged rollout (each wave's budget decides). */
  readonly failFast: boolean;
  /** false: --no-magic-rollback for every node; true: each node's `magicRollback` decides. */
  readonly magicRollback: boolean;
  /** --confirm-timeout: overrides every node's `confirmTimeout`. */
  readonly confirmTimeoutMs?: number;
  /** Waves, failure budget, onFailure, pause, --yes, --skip-health-checks; the plan holds the waves. */
  readonly rollout: RolloutOptions;
  /** A staged rollout of a goal that activates: its waves go one after the other. */
  readonly staged: boolean;
  /** `-i`: the plan waits here for approval (src/deploy/steering.ts); absent: no review. */
  readonly review?: Review;
  /** Where each wave waits when a pause was asked for (`-i`, key p) or `pause: confirm`. */
  readonly waveGate?: WaveGate;
  /** What the targets' records say of this run (--on, --message); absent: nothing is recorded (a goal that activates nothing). */
  readonly records?: Pick<RecordContext, 'on' | 'message'>;
  /** `rollback` (fleet rollback): the run's activations are recorded as rollbacks, once healthy. */
  readonly recordKind: RecordKind;
  /** --reboot, fleet reboot: the reboot step after activation (src/reboot); absent: no reboot. */
  readonly reboot?: RebootOptions;
}

/** The node's magic-rollback window, or undefined when it is off (the node's `magicRollback: false`, or --no-magic-rollback). */
export function confirmWindowMs(policy: Pick<DeployPolicy, 'magicRollback' | 'confirmTimeoutMs'>, node: Pick<ResolvedNode, 'magicRollback' | 'confirmTimeoutMs'>): number | undefined {
  return policy.magicRollback && node.magicRollback ? (policy.confirmTimeoutMs ?? node.confirmTimeoutMs) : undefined;
}
