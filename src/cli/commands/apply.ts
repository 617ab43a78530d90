// `fleet apply`: the main job. Owns Ctrl+C: nothing new starts, activations finish or roll back.
import type { ApplyResult } from '../../deploy/apply.js';
import { ExitCode, UsageError } from '../../errors.js';
import type { Goal } from '../../goal.js';
import type { ApplyCliOptions } from '../apply-policy.js';
import { openFleet, selectFromFleet } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import type { CliIo } from '../io.js';
import type { Session } from '../session.js';
import type { Steering } from '../../deploy/steering.js';
import type { TerminalWaveGate } from '../confirm.js';
import { quitSummary } from '../../ui/quit.js';
import type { Renderer } from '../../ui/renderer.js';
import type { RollbackChoice } from '../../rollback/choose.js';

export interface ApplyExtras {
  session?: Session;
  /** `fleet rollback`: the systems come from the targets' records (this choice of them), not from evaluation,
   *  and the run is recorded as a rollback. */
  rollback?: RollbackChoice;
  /** Gates driven from elsewhere than the terminal (scripts/record-ui-fixtures.ts); `-i` makes its own. */
  steering?: Steering;
  /** `fleet reboot`: nothing is deployed; every node is rebooted onto its boot default (src/reboot/source.ts). */
  reboot?: boolean;
}

export const INTERACTIVE_NEEDS_TERMINAL = '-i/--interactive needs a terminal on stdin and stdout (without one, leave it out: fleet never asks unless told to)';

export const REBOOT_NEEDS_GOAL = '--reboot is for the goals boot and switch: the other goals leave the boot entry alone, so a reboot would come back on the old system';
export const REBOOT_TIMEOUT_ALONE = '--reboot-timeout is for --reboot (and fleet reboot): it bounds the wait for a rebooted node';

export const MESSAGE_MAX = 1000;
export const MESSAGE_TOO_LONG = `--message holds at most ${MESSAGE_MAX} characters (it is kept on every target, in each deploy record)`;

export async function runApply(goal: Goal, options: ApplyCliOptions, io: CliIo, signal: AbortSignal, extras: ApplyExtras = {}): Promise<number> {
  const { session } = extras;
  if (options.message !== undefined && options.message.length > MESSAGE_MAX) throw new UsageError(MESSAGE_TOO_LONG);
  if (options.interactive && !io.tty) throw new UsageError(INTERACTIVE_NEEDS_TERMINAL);
  if (options.reboot && goal !== 'boot' && goal !== 'switch') throw new UsageError(REBOOT_NEEDS_GOAL);
  if (options.rebootTimeout !== undefined && !options.reboot && !extras.reboot) throw new UsageError(REBOOT_TIMEOUT_ALONE);
  const metricsFile = options.metricsFile !== undefined ? await (await import('../metrics-file.js')).checkMetricsFile(io.cwd, options.metricsFile) : undefined;
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, true);
  // Before anything else may ask or change: `pause: confirm` needs --yes, a terminal to ask on, or the steering's gate.
  const { applyPolicy } = await import('../apply-policy.js');
  const canAsk = !!io.stdin?.isTTY || !!extras.steering || !!options.interactive;
  const policy = applyPolicy(goal, options, fleet.rollout, { canAsk, recordKind: extras.rollback ? 'rollback' : 'deploy', ...(extras.reboot ? { rebootEvery: true } : {}) });
  const source = extras.rollback
    ? (await import('../../rollback/source.js')).rollbackSource(extras.rollback)
    : extras.reboot ? (await import('../../reboot/source.js')).rebootSource : undefined;
  const sudoPassword = await (await import('../password.js')).sudoPasswordFor(nodes, !!options.askSudoPassword, io);
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
    // Without a steering, `pause: confirm` is asked on the terminal (applyPolicy made sure there is one).
    if (!steering && policy.rollout.pause.kind === 'confirm') waveGate = (await import('../confirm.js')).confirmOnTerminal(io.stdin!, io.stderr, signal);
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
      ...(keys ? { keys } : {}),
      // -i (or a steering driven by code): the review and the waves' gate; else maybe the terminal's question.
      policy: { ...policy, ...(steering ? { review: steering, waveGate: steering } : waveGate ? { waveGate } : {}) },
      run: runLocal,
      pool,
      emit,
      signal,
      onActivating: (activating) => session?.track(activating),
    }), sudoPassword, { keepIdle: options.parallel, ...(options.probeParallel ? { probes: options.probeParallel } : {}) });
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
