// From per-node outcomes to the exit code CI reads: a run that rolled back never exits 0.
import { ExitCode } from '../errors.js';
import type { Outcome } from '../events.js';

const SUCCESS: readonly Outcome[] = ['unchanged', 'activated', 'built', 'pushed', 'rebooted'];
/** A node fleet cannot vouch for: a rollback that failed, or a reboot it did not come back from in time. */
const UNSAFE: readonly Outcome[] = ['rollback-failed', 'unreachable-after-reboot'];

export function decideExitCode(outcomes: readonly Outcome[], interrupted: boolean): ExitCode {
  if (outcomes.some((o) => UNSAFE.includes(o))) return ExitCode.unsafe;
  if (interrupted) return ExitCode.interrupted;
  return outcomes.every((o) => SUCCESS.includes(o)) ? ExitCode.ok : ExitCode.nodesFailed;
}
