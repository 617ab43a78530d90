// `fleet apply`: the main job. Owns Ctrl+C: nothing new starts, activations finish or roll back.
import type { ApplyResult, SystemSource } from '../../deploy/apply.js';
import { ExitCode, UsageError } from '../../errors.js';
import type { Goal } from '../../goal.js';
import type { RolloutFlags } from '../../rollout/options.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import type { CliIo } from '../io.js';
import type { Session } from '../session.js';
import type { Steering } from '../../deploy/steering.js';
import type { TerminalWaveGate } from '../confirm.js';
import { quitSummary } from '../../ui/quit.js';
import type { Renderer } from '../../ui/renderer.js';

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
  /** -i: review, confirm, watch and steer on the terminal (the ink UI). */
  interactive?: boolean;
  /** --metrics-file: the run's metrics in Prometheus's text format, written when it ends. */
  metricsFile?: string;
  /** --reboot: after a node's activation (boot, switch), reboot it and wait for it (src/reboot). */
  reboot?: boolean;
  /** --reboot-timeout: how long a node may take to come back. */
  rebootTimeout?: number;
}

export interface ApplyExtras {
  session?: Session;
  /** Where the systems come from (default: evaluation; `fleet rollback`: the targets' records). */
  source?: SystemSource;
  /** Gates driven from elsewhere than the terminal (scripts/record-ui-fixtures.ts); `-i` makes its own. */
  steering?: Steering;
  /** `fleet reboot`: every planned node is rebooted, deployed or not. */
  rebootEvery?: boolean;
}

export const INTERACTIVE_NEEDS_TERMINAL = '-i/--interactive needs a terminal on stdin and stdout (without one, leave it out: fleet never asks unless told to)';

export const REBOOT_NEEDS_GOAL = '--reboot is for the goals boot and switch: the other goals leave the boot entry alone, so a reboot would come back on the old system';
export const REBOOT_TIMEOUT_ALONE = '--reboot-timeout is for --reboot (and fleet reboot): it bounds the wait for a rebooted node';

export const MESSAGE_MAX = 1000;
export const MESSAGE_TOO_LONG = `--message holds at most ${MESSAGE_MAX} characters (it is kept on every target, in each deploy record)`;

export async function runApply(goal: Goal, options: ApplyCliOptions, io: CliIo, signal: AbortSignal, extras: ApplyExtras = {}): Promise<number> {
  const { session, source } = extras;
  if (options.message !== undefined && options.message.length > MESSAGE_MAX) throw new UsageError(MESSAGE_TOO_LONG);
  if (options.interactive && !io.tty) throw new UsageError(INTERACTIVE_NEEDS_TERMINAL);
  if (options.reboot && goal !== 'boot' && goal !== 'switch') throw new UsageError(REBOOT_NEEDS_GOAL);
  if (options.rebootTimeout !== undefined && !options.reboot && !extras.rebootEvery) throw new UsageError(REBOOT_TIMEOUT_ALONE);
  const { DEFAULT_REBOOT_TIMEOUT_MS } = await import('../../reboot/types.js');
  const reboot = options.reboot || extras.rebootEvery ? { every: !!extras.rebootEvery, timeoutMs: options.rebootTimeout ?? DEFAULT_REBOOT_TIMEOUT_MS } : undefined;
  const metricsFile = options.metricsFile !== undefined ? await (await import('../metrics-file.js')).checkMetricsFile(io.cwd, options.metricsFile) : undefined;
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, true);
  // Before anything else may ask or change: `pause: confirm` needs a terminal or --yes.
  const { resolveRolloutOptions } = await import('../../rollout/options.js');
  // `pause: confirm` is asked on the terminal, or waits at the steering's gate.
  const rollout = resolveRolloutOptions(fleet.rollout, options, !!io.stdin?.isTTY || !!extras.steering || !!options.interactive);
  const { readSudoPassword, checkPasswordEscalation } = await import('../password.js');
  const sudoPassword = await readSudoPassword(!!options.askSudoPassword, io, io.stdin);
  if (sudoPassword !== undefined) checkPasswordEscalation(nodes);
  // Every key is read here, before any target is touched: a source that fails ends the run now (exit 2).
  const { uploadsKeys } = await import('../../keys/stage.js');
  const keys = !source && uploadsKeys(goal) ? await (await import('../../keys/sources.js')).loadFleetKeys(fleet, nodes, io.env, signal) : undefined;
  const [{ applyFleet }, { chooseRenderer, isCi }, { createEventStream, newRunId }, { createRunMetrics }] = await Promise.all([
    import('../../deploy/apply.js'), import('../../ui/choose.js'), import('../../events.js'), import('../../ui/run-metrics.js'),
  ]);
  const metrics = metricsFile !== undefined ? createRunMetrics() : undefined;
  const runId = newRunId();
  let steering = extras.steering;
  let waveGate: TerminalWaveGate | undefined;
  let renderer: Renderer;
  let detach = () => {};
  if (options.interactive && io.tty) {
    const [{ createSteering }, { createInteractiveRenderer }] = await Promise.all([import('../../deploy/steering.js'), import('../ink.js').then((m) => m.loadInkUi())]);
    const control = createSteering();
    steering = control;
    // The UI only sends commands: abort is Ctrl+C's handler, the rest the run's gates.
    const ui = createInteractiveRenderer(io.tty, (command) => (command.type === 'abort' ? session?.interrupt() : control.send(command)));
    detach = session?.attach(ui) ?? detach;
    renderer = ui;
  } else {
    // Without a steering, `pause: confirm` is asked on the terminal (resolveRolloutOptions made sure there is one).
    if (!steering && rollout.pause.kind === 'confirm') waveGate = (await import('../confirm.js')).confirmOnTerminal(io.stdin!, io.stderr, signal);
    // listr2 holds back stderr while it draws: the question would never show. Plain lines let it through.
    renderer = chooseRenderer({ json: !!options.json, tty: !!io.stdout.isTTY && !waveGate, ci: isCi(io.env), verbose: !!options.verbose, out: io.stdout });
  }
  const emit = createEventStream(runId, (e) => {
    renderer.onEvent(e);
    waveGate?.onEvent(e); // after the renderer: its "paused" line comes before the question
    metrics?.onEvent(e);
  });
  // A forced quit still ends the stream with a summary, from what the events said so far.
  const stopQuit = session?.onQuit((code, activating) => {
    const summary = quitSummary(renderer.view, code, activating);
    if (summary) emit(summary);
  }) ?? (() => {});
  let result: ApplyResult | undefined;
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
      ...(options.magicRollback === false ? { magicRollback: false } : {}),
      ...(options.confirmTimeout !== undefined ? { confirmTimeoutMs: options.confirmTimeout } : {}),
      rollout,
      ...(keys ? { keys } : {}),
      ...(reboot ? { reboot } : {}),
      // -i (or a steering driven by code): the review and the waves' gate; else maybe the terminal's question.
      ...(steering ? { review: steering, waveGate: steering } : waveGate ? { waveGate } : {}),
      run: runLocal,
      pool,
      emit,
      signal,
      onRun: (run) => session?.track(run.activating),
    }), sudoPassword);
  } finally {
    // The interactive UI shows the result, then gives the terminal back (also on an error).
    stopQuit();
    await renderer.finish();
    detach();
    // Also after fleet's own error (no result): exit 3, as the CLI then exits.
    if (metricsFile !== undefined) await writeMetrics(metricsFile, metrics!.render(result?.exitCode ?? ExitCode.unsafe), io);
  }
  for (const warning of result.warnings) io.stderr.write(`fleet: warning: ${warning}\n`);
  return result.exitCode;
}


/** A metrics file that cannot be written is a warning: the deployment's outcome stands. */
async function writeMetrics(path: string, text: string, io: CliIo): Promise<void> {
  const { metricsWriteFailed, writeFileAtomic } = await import('../metrics-file.js');
  await writeFileAtomic(path, text).catch((error: unknown) => io.stderr.write(`fleet: warning: ${metricsWriteFailed(path, error)}\n`));
}
