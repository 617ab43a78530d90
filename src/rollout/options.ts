// Rollout options for one run: the fleet file's `rollout` overridden by the command line, checked once.
import { resolveRollout } from '../config/resolve.js';
import type { RolloutConfig } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { RolloutFlags } from './flags.js';

export type { RolloutFlags };

/** What the scheduler executes: `pause` is `confirm` only when there is a terminal to ask on and no `--yes`. */
export interface RolloutOptions extends RolloutConfig {
  /** A staged rollout was asked for (a `rollout` key or --waves/--max-failures/--on-failure): the plan shows its waves. */
  staged: boolean;
  /** `--yes`: never ask (a `pause: confirm` becomes no pause). */
  yes: boolean;
  /** `--skip-health-checks`: the emergency switch; nodes settle right after activation (and confirmation). */
  skipHealthChecks: boolean;
}

/** Flags win over the fleet file; `pause: confirm` without a terminal and without `--yes` is refused before anything runs. */
export function resolveRolloutOptions(fileConfig: RolloutConfig | undefined, flags: RolloutFlags, canAsk: boolean): RolloutOptions {
  const config = fileConfig ?? resolveRollout({});
  const yes = !!flags.yes;
  if (config.pause.kind === 'confirm' && !yes && !canAsk) {
    throw new UsageError('the fleet file sets `rollout.pause: confirm`, but there is no terminal to ask on; pass --yes to go on without asking');
  }
  return {
    staged: fileConfig !== undefined || flags.waves !== undefined || flags.maxFailures !== undefined || flags.onFailure !== undefined,
    waves: flags.waves ?? config.waves,
    order: config.order,
    maxFailures: flags.maxFailures ?? config.maxFailures,
    onFailure: flags.onFailure ?? config.onFailure,
    pause: config.pause.kind === 'confirm' && yes ? { kind: 'none' } : config.pause,
    yes,
    skipHealthChecks: !!flags.skipHealthChecks,
  };
}
