// `fleet apply`: the main job. Owns Ctrl+C: nothing new starts, activations finish or roll back.
import type { ApplyResult, SystemSource } from '../../deploy/apply.js';
import { UsageError } from '../../errors.js';
import type { Goal } from '../../goal.js';
import type { RolloutFlags } from '../../rollout/options.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import type { CliIo } from '../io.js';
import type { Session } from '../session.js';

export interface ApplyCliOptions extends FileOptions, RolloutFlags {
  on?: string;
  json?: boolean;
  force?: boolean;
  parallel: number;
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
}

export const MESSAGE_MAX = 1000;
export const MESSAGE_TOO_LONG = `--message holds at most ${MESSAGE_MAX} characters (it is kept on every target, in each deploy record)`;

/** source: where the systems come from (default: evaluation; `fleet rollback`: the targets' records). */
export async function runApply(goal: Goal, options: ApplyCliOptions, io: CliIo, signal: AbortSignal, session?: Session, source?: SystemSource): Promise<number> {
  if (options.message !== undefined && options.message.length > MESSAGE_MAX) throw new UsageError(MESSAGE_TOO_LONG);
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, true);
  // Before anything else may ask or change: `pause: confirm` needs a terminal or --yes.
  const { resolveRolloutOptions } = await import('../../rollout/options.js');
  const rollout = resolveRolloutOptions(fleet.rollout, options, !!io.stdin?.isTTY);
  const { readSudoPassword, checkPasswordEscalation } = await import('../password.js');
  const sudoPassword = await readSudoPassword(!!options.askSudoPassword, io, io.stdin);
  if (sudoPassword !== undefined) checkPasswordEscalation(nodes);
  const [{ applyFleet }, { chooseRenderer, isCi }, { createEventStream, newRunId }] = await Promise.all([
    import('../../deploy/apply.js'), import('../../ui/choose.js'), import('../../events.js'),
  ]);
  const renderer = chooseRenderer({ json: !!options.json, tty: !!io.stdout.isTTY, ci: isCi(io.env), verbose: !!options.verbose, out: io.stdout });
  const runId = newRunId();
  let result: ApplyResult;
  try {
    result = await withHosts(io, signal, async (pool, runLocal) => applyFleet(fleet, nodes, {
      runId,
      ...(source ? { source } : {}),
      goal,
      force: !!options.force,
      parallel: options.parallel,
      maxJobs: options.maxJobs ?? 'auto',
      keepGoing: !!options.keepGoing,
      useSubstitutes: !!options.useSubstitutes,
      showTrace: !!options.showTrace,
      verbose: !!options.verbose,
      breakLock: !!options.breakLock,
      ...(options.on !== undefined ? { selector: options.on } : {}),
      ...(options.message !== undefined ? { message: options.message } : {}),
      ...(sudoPassword !== undefined ? { sudoPassword } : {}),
      ...(options.magicRollback === false ? { magicRollback: false } : {}),
      ...(options.confirmTimeout !== undefined ? { confirmTimeoutMs: options.confirmTimeout } : {}),
      rollout,
      ...(rollout.pause.kind === 'confirm' ? { confirmNextWave: askNextWave(io) } : {}),
      run: runLocal,
      pool,
      emit: createEventStream(runId, (e) => renderer.onEvent(e)),
      signal,
      onRun: (run) => session?.track(run.activating),
    }));
  } finally {
    await renderer.finish();
  }
  for (const warning of result.warnings) io.stderr.write(`fleet: warning: ${warning}\n`);
  return result.exitCode;
}

/** `pause: confirm`: the question between waves, on the terminal (stderr: stdout may carry --json events). */
function askNextWave(io: CliIo) {
  return async (next: number, of: number, signal: AbortSignal): Promise<boolean> => {
    const { askToContinue } = await import('../../rollout/confirm.js');
    if (!io.stdin) return false; // resolveRolloutOptions refused `pause: confirm` without a terminal already
    return askToContinue(io.stdin, io.stderr, `fleet: wave ${next - 1} of ${of} passed; start wave ${next}?`, signal);
  };
}
