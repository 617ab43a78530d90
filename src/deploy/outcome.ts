// From per-node outcomes to the exit code CI reads: a run that rolled back never exits 0.
import { ExitCode } from '../errors.js';
import type { Outcome } from '../events.js';

const SUCCESS: readonly Outcome[] = ['unchanged', 'activated', 'built', 'pushed'];

export function decideExitCode(outcomes: readonly Outcome[], interrupted: boolean): ExitCode {
  if (outcomes.includes('rollback-failed')) return ExitCode.unsafe;
  if (interrupted) return ExitCode.interrupted;
  return outcomes.every((o) => SUCCESS.includes(o)) ? ExitCode.ok : ExitCode.nodesFailed;
}
