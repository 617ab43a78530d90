// Activation of one node through the target-side agent, and rollback to exactly what it recorded, verified.
// fleet decides from the agent's files and the live system (AgentReport), never from a switch's output.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { Outcome } from '../events.js';
import { goalTraits, isVerified, type Goal } from '../goal.js';
import type { SystemState } from '../target/state.js';
import { quoteArgv } from '../transport/quote.js';
import { failureReason } from '../transport/run.js';
import type { Target } from '../transport/target.js';
import { activateArgv, confirmArgv, newConfirmToken, newToken, parseWait, rollbackArgv, runDir, waitArgv, type Action, type AgentReport, type Detach, type Watchdog } from '../agent/agent.js';
import { runOnNode } from '../agent/run.js';
import { readTargetState } from '../probe/probe.js';

export interface ActivationResult {
  outcome: Outcome;
  error?: string;
  log?: string[];
  /** activated, rolled-back: what the node runs now, verified; and what it ran before the change. */
  now?: SystemState;
  before?: SystemState;
}

/** What every call to a node's agent in a run needs. */
export interface AgentInput {
  target: Target;
  runId: string;
  goal: Goal;
  /** From the probe: detach under systemd-run where the target has systemd, else setsid. */
  systemd: boolean;
  onPhase: (phase: Phase, detail: string) => void;
  /** --verbose: activation output as it comes. */
  onLine?: (line: string) => void;
}

export interface ActivateInput extends AgentInput {
  outPath: string;
  /** How long past the switch's own deadline fleet waits for the agent's word (default 60 s). */
  graceMs?: number;
  /** Magic rollback (switch, test): how long the target waits for the confirmation before reverting. */
  confirmTimeoutMs?: number;
  /** fleet rollback: make exactly this existing profile generation current (switch, boot), not a new one. */
  generation?: number;
}

/** The switch's own deadline on the target; fleet waits a minute longer for the agent to report it. */
function switchSeconds(node: ResolvedNode): number {
  return Math.max(1, Math.ceil(node.activationTimeoutMs / 1000));
}

/** How the agent detaches an action of this run on this node (a transient unit's name, or setsid). */
function detachOf(input: Pick<ActivateInput, 'target' | 'runId' | 'systemd'>, action: Action): Detach {
  const { node } = input.target;
  return { seconds: switchSeconds(node), systemd: input.systemd, unit: `fleet-${input.runId}-${node.name}-${action}` };
}

/** Until when fleet waits for the agent's word: the switch's own deadline, a grace, and what comes before it. */
function agentDeadline(node: ResolvedNode, graceMs = 60_000, extraMs = 0): number {
  return Date.now() + extraMs + switchSeconds(node) * 1000 + graceMs;
}

/** How a switch-to-configuration exit reads: timeout(1) gives 124, or 137 once it had to kill. */
function exitText(code: string | undefined): string {
  return code === '124' || code === '137' ? 'timed out' : `exit ${code}`;
}

const TAIL = 20;

/** An agent call's reply that ends as `wait` does: the action's output, then the report after `token`. */
type WaitReply = ReturnType<typeof parseWait>;

/** --verbose: the action's output lines as they come, up to the report's token. */
function outputUntil(token: string, onLine?: (line: string) => void): (line: string) => void {
  let afterToken = false;
  return (line) => {
    if (line === token) afterToken = true;
    else if (!afterToken && line.trim() !== '') onLine?.(line);
  };
}

/** Waits for the agent's result of `action`, reconnecting while the connection is down, until the deadline.
 *  `first`: a report the call that started it already brought back (from there on, or final when it has a status). */
export async function awaitAgent(target: Target, dir: string, action: Action, deadlineMs: number, onLine?: (line: string) => void, first?: WaitReply): Promise<{ report?: AgentReport; log: string[]; error?: string; notStarted?: boolean }> {
  let seen = first?.report?.lines ?? 0;
  let log: string[] = first?.report ? first.log.slice(-TAIL) : [];
  if (first?.report && first.report.status !== '') return { report: first.report, log };
  const { node } = target;
  let lastError = '';
  for (;;) {
    const remaining = deadlineMs - Date.now();
    if (remaining <= 0) return { log, error: `no result from the target's agent in time${lastError ? ` (last error: ${lastError})` : ''}` };
    const seconds = Math.max(1, Math.min(Math.ceil(remaining / 1000), 300));
    const token = newToken();
    const r = await target.run(waitArgv(dir, action, seconds, seen, token, node.profile), {
      timeoutMs: seconds * 1000 + node.connectTimeoutMs + 15_000,
      onLine: outputUntil(token, onLine),
    });
    const parsed = parseWait(r.stdout, token);
    log = [...log, ...parsed.log].slice(-TAIL);
    if (parsed.report) {
      seen = parsed.report.lines;
      if (parsed.report.status !== '') return { report: parsed.report, log };
      continue; // still running on the target
    }
    // Raw lines, as the agent counts them (the last one is the empty line before the token that never came).
    seen += Math.max(0, r.stdout.split('\n').length - 1);
    if (r.exitCode === 95 || r.exitCode === 96) return { log, notStarted: true, error: `the agent has no record of this ${action} on ${node.name}: ${failureReason(r)}` };
    // The connection dropped (a switch that restarts the network, a cut): the agent goes on; ask again.
    lastError = failureReason(r);
    await sleep(1000);
  }
}

/** Why a finished activation did not succeed, or undefined when it did. */
export function describeFailure(report: AgentReport, goal: Goal, outPath: string): string | undefined {
  const [status = '', code] = report.status.split(' ');
  switch (status) {
    case 'done':
      if (isVerified(goal, report.now, outPath)) return undefined;
      return `verification failed: /run/current-system is ${report.now.currentSystem ?? 'absent'}, profile is ${report.now.profileTarget ?? 'absent'}`;
    case 'profile-failed':
      return `setting the profile failed (nix-env exit ${code})`;
    case 'switch-failed':
      return `switch-to-configuration ${goal} failed (${exitText(code)})`;
    case 'detach-failed':
      return 'the agent could not start the activation in the background (systemd-run or setsid failed)';
    default:
      return `the agent reported ${report.status}`;
  }
}

function describe(state: SystemState): string {
  return `${state.profileLink ?? 'no profile'} (${state.currentSystem ?? 'nothing running'})`;
}

/** How what a node has differs from what it should have, in the parts this goal restores: the profile by its
 *  generation and the system it holds, the running system by its path (never one running path on both sides). */
function mismatch(goal: Goal, expected: SystemState, now: SystemState): string {
  const t = goalTraits(goal);
  const profile = (s: SystemState) => (s.profileLink ? `${s.profileLink}${s.profileTarget ? ` (${s.profileTarget})` : ''}` : 'absent');
  const parts: string[] = [];
  if (t.setsProfile && now.profileLink !== expected.profileLink) parts.push(`its profile is ${profile(now)}, expected ${profile(expected)}`);
  if (t.changesRunning && now.currentSystem !== expected.currentSystem) parts.push(`it runs ${now.currentSystem ?? 'nothing'}, expected ${expected.currentSystem ?? 'nothing'}`);
  return parts.join('; ');
}

/** What a person must run by hand when fleet could not restore the node: every value shell-quoted. */
export function manualRecovery(node: Pick<ResolvedNode, 'name' | 'profile'>, before: SystemState): string {
  const steps: string[] = [];
  if (before.generation !== undefined) steps.push(quoteArgv(['nix-env', '-p', node.profile, '--switch-generation', String(before.generation)]));
  if (before.currentSystem) steps.push(quoteArgv([`${before.currentSystem}/bin/switch-to-configuration`, 'switch']));
  return steps.length ? `On ${node.name} run: ${steps.join(' && ')}` : `Inspect ${node.name} by hand: it had no previous system.`;
}

/** Did the rollback put back exactly what was recorded (the parts this goal changes)? */
export function restored(goal: Goal, before: SystemState, now: SystemState): boolean {
  const t = goalTraits(goal);
  return (!t.setsProfile || now.profileLink === before.profileLink) && (!t.changesRunning || now.currentSystem === before.currentSystem);
}

export async function activateNode(input: ActivateInput): Promise<ActivationResult> {
  const { target, goal, outPath, onPhase } = input;
  const { node } = target;
  const dir = runDir(input.runId, node.name);
  const deadline = (extraMs = 0) => agentDeadline(node, input.graceMs, extraMs);
  // Magic rollback: the new system goes live with `test`; the target's watchdog reverts it unless confirmed.
  const watchdog: Watchdog | undefined = input.confirmTimeoutMs !== undefined && (goal === 'switch' || goal === 'test')
    ? { seconds: Math.max(1, Math.ceil(input.confirmTimeoutMs / 1000)), token: newConfirmToken() }
    : undefined;
  const live: Goal = watchdog ? 'test' : goal;

  onPhase('activate', `switch-to-configuration ${live}${input.systemd ? ' (systemd-run)' : ''}`);
  const setsProfile = goalTraits(goal).setsProfile;
  const profileStep = setsProfile && input.generation !== undefined ? input.generation : setsProfile;
  const argv = activateArgv(dir, node.profile, outPath, goal, profileStep, node.checkSystem, detachOf(input, 'activate'), watchdog);
  const started = await runOnNode(target, argv, { escalate: true });
  if (started.exitCode === 93) return { outcome: 'failed', error: `activation did not start: ${failureReason(started)}` };
  // Whatever the answer (a dropped connection included), the agent's files say whether it started.
  const activation = await awaitAgent(target, dir, 'activate', deadline(), input.onLine);
  const log = activation.log;
  const report = activation.report;
  if (!report) {
    if (!started.failed) return stateUnknown(activation.error, log);
    return { outcome: 'failed', error: `activation did not start: ${failureReason(started)}`, log };
  }
  if (report.status === 'refused') {
    return { outcome: 'failed', error: `${outPath} is not a system: bin/switch-to-configuration is missing (set checkSystem: false to skip this check)`, log };
  }
  onPhase('verify', goal === 'boot' ? 'profile points at the new system' : '/run/current-system points at the new system');
  const undo = async (problem: string): Promise<ActivationResult> => {
    onPhase('rollback', `back to ${describe(report.before)}`);
    const rollback = await rollbackNode(input, dir, report.before, deadline());
    log.push(...rollback.log);
    return rollback.ok
      ? { outcome: 'rolled-back', error: `${problem}; rolled back to ${describe(report.before)}`, log }
      : { outcome: 'rollback-failed', error: `${problem}; ROLLBACK FAILED: ${rollback.error}. ${manualRecovery(node, report.before)}`, log };
  };
  // Already decided by the watchdog (fleet could not reach the node during the window): judge that instead.
  const decided = watchdog !== undefined && report.status === 'done' && report.confirmStatus !== undefined;
  const problem = decided ? undefined : describeFailure(report, live, outPath);
  if (problem) {
    // Nothing was changed (the profile could not be set, or a dry run failed): there is nothing to undo.
    if (!report.profileSet && (!report.switchStarted || goal === 'dry-activate')) return { outcome: 'failed', error: `${problem}; nothing was changed`, log };
    return undo(problem);
  }
  if (!watchdog) return { outcome: 'activated', log, now: report.now, before: report.before };

  // The window started when the agent finished the live activation, a moment before fleet saw it.
  const windowEnds = Date.now() + watchdog.seconds * 1000;
  onPhase('confirm', `over a new SSH connection; without it the node reverts by itself after ${watchdog.seconds}s`);
  const sent: Confirmation = decided ? { ok: false, error: 'the node could not be reached while its window was open' } : await sendConfirmation(input, dir, watchdog.token, windowEnds);
  const confirmed = await awaitAgent(target, dir, 'confirm', deadline(watchdog.seconds * 1000), input.onLine, sent.reply);
  log.push(...confirmed.log);
  if (!confirmed.report && confirmed.notStarted) return afterRestart(input, report.before, watchdog.seconds, log);
  if (!confirmed.report) return stateUnknown(confirmed.error, log);
  const status = confirmed.report.status;
  if (status === 'expired') {
    const why = `the confirmation did not arrive within ${watchdog.seconds}s${sent.error ? ` (${sent.error})` : ''}`;
    const reverted = judgeRollback(await awaitAgent(target, dir, 'rollback', deadline(), input.onLine), goal, report.before);
    log.push(...reverted.log);
    if (reverted.ok) return { outcome: 'rolled-back', error: `${why}; the node's watchdog rolled it back to ${describe(report.before)}`, log };
    return { outcome: 'rollback-failed', error: `${why}; the node's watchdog could not roll it back: ${reverted.error}. ${manualRecovery(node, report.before)}`, log };
  }
  const confirmProblem = status === 'done' ? describeFailure(confirmed.report, goal, outPath) : describeConfirmFailure(status);
  return confirmProblem ? undo(confirmProblem) : { outcome: 'activated', log, now: confirmed.report.now, before: report.before };
}

function stateUnknown(error: string | undefined, log: string[]): ActivationResult {
  return { outcome: 'rollback-failed', error: `${error ?? 'no result'}; the node's state is unknown: check it (fleet plan)`, log };
}

/** The run dir vanished inside the window: the node restarted (/run is cleared). The profile never moved,
 *  so it must have come back on the recorded system; fleet checks that rather than assume it. */
async function afterRestart(input: ActivateInput, before: SystemState, windowSeconds: number, log: string[]): Promise<ActivationResult> {
  const { target, goal } = input;
  const { node } = target;
  const why = `the node restarted within its ${windowSeconds}s window, before the confirmation`;
  let now: SystemState;
  try {
    now = await readTargetState(target, input.outPath);
  } catch (error) {
    return { outcome: 'rollback-failed', error: `${why}, and it cannot be read now: ${(error as Error).message}. ${manualRecovery(node, before)}`, log };
  }
  if (restored(goal, before, now)) return { outcome: 'rolled-back', error: `${why}; it came back on ${describe(before)}`, log };
  return { outcome: 'rollback-failed', error: `${why}; ${mismatch(goal, before, now)}. ${manualRecovery(node, before)}`, log };
}


/** Puts a node this run activated (and confirmed) back on what its agent recorded before: a failed health
 *  check, or a wave that failed. `why` leads the message. */
export async function rollbackActivated(input: AgentInput, why: string): Promise<ActivationResult> {
  const { node } = input.target;
  const dir = runDir(input.runId, node.name);
  input.onPhase('rollback', `back to what ${dir}/before records`);
  const r = await rollbackNode(input, dir, undefined, agentDeadline(node));
  if (r.ok) return { outcome: 'rolled-back', error: `${why}; rolled back to ${describe(r.before!)}`, log: r.log, ...(r.now ? { now: r.now } : {}) };
  return { outcome: 'rollback-failed', error: `${why}; ROLLBACK FAILED: ${r.error}.${r.before ? ` ${manualRecovery(node, r.before)}` : ''}`, log: r.log };
}

/** Why the step after a confirmation failed (the watchdog's `confirm.status`). */
export function describeConfirmFailure(status: string): string {
  const [what = '', code] = status.split(' ');
  switch (what) {
    case 'profile-failed':
      return `confirmed, but setting the profile failed (nix-env exit ${code})`;
    case 'boot-failed':
      return `confirmed, but making it the boot default failed (switch-to-configuration boot ${exitText(code)})`;
    default:
      return `the watchdog reported ${status}`;
  }
}

interface Confirmation {
  ok: boolean;
  error?: string;
  reply?: WaitReply;
}

/** The confirmation rides a brand-new SSH connection (own TCP connection and authentication): it proves
 *  the node can still be reached, which a multiplexed session cannot. Tried again until the window ends.
 *  reply: the watchdog's report, as `wait confirm` gives it (with its verdict when that came quickly). */
async function sendConfirmation(input: ActivateInput, dir: string, token: string, windowEndsMs: number): Promise<Confirmation> {
  const { target } = input;
  const { node } = target;
  const reportToken = newToken();
  const argv = confirmArgv(dir, token, reportToken, node.profile);
  let failure: string | undefined;
  // The window is at least 1 s from now (activateNode): there is always time for a first attempt.
  for (;;) {
    const r = await target.runFresh(argv, {
      timeoutMs: Math.max(1, Math.min(windowEndsMs - Date.now(), node.connectTimeoutMs + 10_000)), onLine: outputUntil(reportToken, input.onLine),
    });
    if (!r.failed) return { ok: true, reply: parseWait(r.stdout, reportToken) };
    // 97: the node's watchdog had already decided (fleet's view of the window runs a little behind the node's).
    if (r.exitCode === 97) return { ok: false, error: `${failure ? `${failure}; ` : ''}a new connection got through only after the window had closed` };
    failure = `a new SSH connection failed: ${failureReason(r)}`;
    // 255 or a timeout: ssh could not get through; anything else is the target's answer, final.
    if ((r.exitCode !== 255 && !r.timedOut) || windowEndsMs - Date.now() <= 0) return { ok: false, error: failure };
    await sleep(Math.min(1000, Math.max(0, windowEndsMs - Date.now())));
  }
}

/** Ask the agent to undo this run's changes, then check the live system against what it recorded. */
async function rollbackNode(input: AgentInput, dir: string, before: SystemState | undefined, deadlineMs: number): Promise<RollbackVerdict> {
  const { target } = input;
  const start = () => runOnNode(target, rollbackArgv(dir, detachOf(input, 'rollback')), { escalate: true });
  let started = await start();
  // 255: the connection dropped and the agent may have started; any other failure: it did not.
  if (started.failed && started.exitCode !== 255) return { ok: false, error: `the rollback did not start: ${failureReason(started)}`, log: [] };
  let result = await awaitAgent(target, dir, 'rollback', deadlineMs, input.onLine);
  if (result.notStarted && started.exitCode === 255) {
    // The connection dropped before the agent began: ask once more now that it answers.
    started = await start();
    if (started.failed) return { ok: false, error: `the rollback did not start: ${failureReason(started)}`, log: [] };
    result = await awaitAgent(target, dir, 'rollback', deadlineMs, input.onLine);
  }
  return judgeRollback(result, input.goal, before);
}

interface RollbackVerdict {
  ok: boolean;
  error?: string;
  log: string[];
  before?: SystemState;
  now?: SystemState;
}

/** A finished rollback (fleet's, or the watchdog's own) is good only if the node runs exactly what was
 *  recorded; `before` defaults to the agent's own record. */
function judgeRollback(result: Awaited<ReturnType<typeof awaitAgent>>, goal: Goal, before: SystemState | undefined): RollbackVerdict {
  const { report, log } = result;
  if (!report) return { ok: false, error: result.error ?? 'no result', log };
  if (report.status !== 'done') return { ok: false, error: report.status.replace(/^failed /, ''), log };
  const recorded = before ?? report.before;
  if (!restored(goal, recorded, report.now)) return { ok: false, error: `after rollback ${mismatch(goal, recorded, report.now)}`, log, before: recorded };
  return { ok: true, log, before: recorded, now: report.now };
}
