// From the command line of `apply` and `rollback` and the fleet file to the run's deploy policy: flags win
// over the file, defaults are filled in, once, before anything runs. Pure: the terminal's facts come in as data.
import type { RolloutConfig } from '../config/types.js';
import type { DeployPolicy } from '../deploy/policy.js';
import { goalTraits, type Goal } from '../goal.js';
import { DEFAULT_REBOOT_TIMEOUT_MS } from '../reboot/types.js';
import type { RecordKind } from '../records/record.js';
import { resolveRolloutOptions, type RolloutFlags } from '../rollout/options.js';
import type { FileOptions } from './fleet-file.js';

export interface ApplyCliOptions extends FileOptions, RolloutFlags {
  on?: string;
  json?: boolean;
  force?: boolean;
  parallel: number;
  /** --probe-parallel: targets asked at once. */
  probeParallel?: number;
  maxJobs?: number | 'auto';
  keepGoing?: boolean;
  useSubstitutes?: boolean;
  showTrace?: boolean;
  verbose?: boolean;
  askSudoPassword?: boolean;
  /** commander's --no-magic-rollback: false when given. */
  magicRollback?: boolean;
  confirmTimeout?: number;
  breakLock?: boolean;
  /** --message: kept in each target's deploy record. */
  message?: string;
  /** -i: review, confirm, watch and steer on the terminal (the ink UI). */
  interactive?: boolean;
  /** --metrics-file: the run's metrics in Prometheus's text format, written when it ends. */
  metricsFile?: string;
  /** --reboot: after a node's activation (boot, switch), reboot it and wait for it (src/reboot). */
  reboot?: boolean;
  /** --reboot-timeout: how long a node may take to come back. */
  rebootTimeout?: number;
}

export interface PolicyFacts {
  /** A terminal to ask on, or gates driven from elsewhere: `pause: confirm` may wait for a person. */
  canAsk: boolean;
  /** `rollback` for fleet rollback: its activations are recorded as rollbacks. */
  recordKind: RecordKind;
  /** `fleet reboot`: every planned node is rebooted, deployed or not. */
  rebootEvery?: boolean;
}

/** The run's policy without its gates: -i's steering or the terminal's question are added once they exist.
 *  Throws a UsageError for `pause: confirm` with nobody to ask and no --yes. */
export function applyPolicy(goal: Goal, flags: ApplyCliOptions, fileRollout: RolloutConfig | undefined, facts: PolicyFacts): DeployPolicy {
  const traits = goalTraits(goal);
  const rollout = resolveRolloutOptions(fileRollout, flags, facts.canAsk);
  // Waves only mean something for a goal that activates; a build or push goes at once.
  const staged = rollout.staged && traits.activates;
  return {
    goal,
    traits,
    force: !!flags.force,
    showTrace: !!flags.showTrace,
    breakLock: !!flags.breakLock,
    parallel: flags.parallel,
    maxJobs: flags.maxJobs ?? 'auto',
    useSubstitutes: !!flags.useSubstitutes,
    verbose: !!flags.verbose,
    failFast: !flags.keepGoing && !staged,
    magicRollback: flags.magicRollback !== false,
    ...(flags.confirmTimeout !== undefined ? { confirmTimeoutMs: flags.confirmTimeout } : {}),
    rollout,
    staged,
    // Only goals that change a node write records.
    ...(traits.activates ? { records: { on: flags.on ?? 'all', ...(flags.message !== undefined ? { message: flags.message } : {}) } } : {}),
    recordKind: facts.recordKind,
    ...(flags.reboot || facts.rebootEvery ? { reboot: { every: !!facts.rebootEvery, timeoutMs: flags.rebootTimeout ?? DEFAULT_REBOOT_TIMEOUT_MS } } : {}),
  };
}
