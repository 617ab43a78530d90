// The rollout flags of `apply` and `plan` as commander parses them; kept light, main.ts loads it at start-up.
import { InvalidArgumentError } from 'commander';
import { parseAmount } from '../config/amount.js';
import type { Amount, OnFailure } from '../config/types.js';

export const ON_FAILURE_MODES: readonly OnFailure[] = ['rollback-wave', 'rollback-all', 'stop'];

/** What the command line may override or add (`--waves`, `--max-failures`, `--on-failure`, `--yes`, `--skip-health-checks`). */
export interface RolloutFlags {
  waves?: Amount[];
  maxFailures?: Amount;
  onFailure?: OnFailure;
  yes?: boolean;
  skipHealthChecks?: boolean;
}

/** commander argument parser for `--waves 1,5,20%`. */
export function parseWavesFlag(text: string): Amount[] {
  const entries = text.split(',');
  return entries.map((entry) => {
    const amount = parseAmount(entry.trim(), 1);
    if (!amount) {
      const what = entry.trim() === '' ? 'an empty entry' : `\`${entry}\``;
      throw new InvalidArgumentError(`${what} is not a wave size; give node counts (at least 1) or percentages from 0% to 100%, separated by commas, e.g. 1,5,20%`);
    }
    return amount;
  });
}

/** commander argument parser for `--max-failures N|P%`. */
export function parseMaxFailuresFlag(text: string): Amount {
  const amount = parseAmount(text.trim(), 0);
  if (!amount) throw new InvalidArgumentError('give a number of nodes (0 or more) or a percentage of the wave from 0% to 100%, e.g. 2 or 10%');
  return amount;
}
