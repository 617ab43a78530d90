// Activation of one node through the target-side agent, and rollback to exactly what it recorded, verified.
// fleet decides from the agent's files and the live system (its Report), never from a switch's output.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { NodeCause, Outcome } from '../events.js';
import { OVERLOADED, type ConfirmPlanner } from './confirm-plan.js';
import { goalTraits, isVerified, type Goal } from '../goal.js';
import type { SystemState } from '../target/state.js';
import { quoteArgv } from '../transport/quote.js';
import { lostLockText } from '../lock/text.js';
import { lockPath } from '../agent/lock.js';
import { newConfirmToken, switchSeconds, type AgentClient, type AgentFailure, type Reply } from '../agent/client.js';
import type { Action, ActivateStatus, ConfirmStatus, Report, StatusOf } from '../agent/protocol.js';
import { readTargetState } from '../probe/probe.js';

export interface ActivationResult {
  outcome: Outcome;
  error?: string;
  log?: string[];
  /** deployer-overloaded: fleet's own machine could not make (or even attempt) the confirmation. */
  cause?: NodeCause;
  /** activated, rolled-back: what the node runs now, verified; and what it ran before the change. */
  now?: SystemState;
  before?: SystemState;
}

/** What every call to a node's agent in a run needs. */
export interface AgentInput {
  /** The node's agent client (its Target, this run's id and lock). */
  agent: AgentClient;
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
  /** The run's confirmations: pending ones hold new work; each one's connection time is measured. */
  confirms?: Pick<ConfirmPlanner, 'confirming' | 'observe'>;
}

/** Until when fleet waits for the agent's word: the switch's own deadline, a grace, and what comes before it. */
function agentDeadline(node: ResolvedNode, graceMs = 60_000, extraMs = 0): number {
  return Date.now() + extraMs + switchSeconds(node) * 1000 + graceMs;
}

/** How long one agent call waits on the target before it reports what it has (at most 5 minutes a call). */
function waitSeconds(deadlineMs: number): number {
  return Math.max(1, Math.min(Math.ceil((deadlineMs - Date.now()) / 1000), 300));
}

/** How a switch-to-configuration exit reads: timeout(1) gives 124, or 137 once it had to kill. */
function exitText(code: number): string {
  return code === 124 || code === 137 ? 'timed out' : `exit ${code}`;
}

const TAIL = 20;

interface Awaited<S> {
  report?: Report<S>;
  log: string[];
  error?: string;
  /** The agent has no record of the action (no run dir, or not that action). */
  notStarted?: boolean;
}

/** Waits for the agent's result of `action`, reconnecting while the connection is down, until the deadline.
 *  `first`: the reply of the call that started it (from there on, or final when its report has a status). */
export async function awaitAgent<A extends Action>(agent: AgentClient, action: A, deadlineMs: number, onLine?: (line: string) => void, first?: Reply<StatusOf[A]>): Promise<Awaited<StatusOf[A]>> {
  let seen = first?.seen ?? 0;
  let log: string[] = first ? first.log.slice(-TAIL) : [];
  if (first?.report?.status) return { report: first.report, log };
  let lastError = '';
  for (;;) {
    if (deadlineMs - Date.now() <= 0) return { log, error: `no result from the target's agent in time${lastError ? ` (last error: ${lastError})` : ''}` };
    const r = await agent.wait(action, { seconds: waitSeconds(deadlineMs), seen, ...(onLine ? { onLine } : {}) });
    log = [...log, ...r.log].slice(-TAIL);
    seen = r.seen;
    if (r.report) {
      if (r.report.status) return { report: r.report, log };
      continue; // still running on the target
    }
    const failure = r.failure!;
    if (failure.kind === 'agent' && (failure.exit === 'noRunDir' || failure.exit === 'noAction')) {
      return { log, notStarted: true, error: `the agent has no record of this ${action} on ${agent.node.name}: ${failure.reason}` };
    }
    // The connection dropped (a switch that restarts the network, a cut): the agent goes on; ask again.
    lastError = failure.reason;
    await sleep(1000);
  }
}

/** Why a finished activation did not succeed, or undefined when it did. */
export function describeFailure(report: Report<ActivateStatus>, goal: Goal, outPath: string): string | undefined {
  const status = report.status;
  switch (status?.kind) {
    case 'done':
      if (isVerified(goal, report.now, outPath)) return undefined;
      return `verification failed: /run/current-system is ${report.now.currentSystem ?? 'absent'}, profile is ${report.now.profileTarget ?? 'absent'}`;
    case 'profile-failed':
      return `setting the profile failed (nix-env exit ${status.code})`;
    case 'switch-failed':
      return `switch-to-configuration ${goal} failed (${exitText(status.code)})`;
    case 'detach-failed':
      return 'the agent could not start the activation in the background (systemd-run or setsid failed)';
    case 'refused':
      return 'the agent refused the system';
    case 'unknown':
      return `the agent reported ${status.text}`;
    default:
      return 'the agent reported no status';
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

/** An agent call refused because the lock is not this run's (or could not be checked): nothing was changed. */
function lockRefusal(agent: AgentClient, failure: Extract<AgentFailure, { kind: 'lock' }>, what: string): ActivationResult {
  if (failure.lock?.state === 'lost') return { outcome: 'locked', error: lostLockText(failure.lock.holder, what) };
  return { outcome: 'failed', error: `cannot check the lock ${lockPath(agent.node.profile)}: ${failure.lock?.error ?? failure.reason}; ${what}` };
}

export async function activateNode(input: ActivateInput): Promise<ActivationResult> {
  const { agent, goal, outPath, onPhase } = input;
  const { node } = agent;
  const deadline = (extraMs = 0) => agentDeadline(node, input.graceMs, extraMs);
  // Magic rollback: the new system goes live with `test`; the target's watchdog reverts it unless confirmed.
  const watchdog = input.confirmTimeoutMs !== undefined && (goal === 'switch' || goal === 'test')
    ? { seconds: Math.max(1, Math.ceil(input.confirmTimeoutMs / 1000)), token: newConfirmToken() }
    : undefined;
  const live: Goal = watchdog ? 'test' : goal;

  onPhase('activate', `switch-to-configuration ${live}${input.systemd ? ' (systemd-run)' : ''}`);
  const setsProfile = goalTraits(goal).setsProfile;
  // One round trip: the lock checked (and renewed), the state recorded, the activation started and waited for.
  const started = await agent.activate({
    outPath, goal, setProfile: setsProfile && input.generation !== undefined ? input.generation : setsProfile, checkSystem: node.checkSystem,
    systemd: input.systemd, ...(watchdog ? { watchdog } : {}), waitSeconds: waitSeconds(deadline()), ...(input.onLine ? { onLine: input.onLine } : {}),
  });
  if (started.failure?.kind === 'lock') return lockRefusal(agent, started.failure, 'not activated');
  if (!started.started && started.failure && started.failure.kind !== 'cut') return { outcome: 'failed', error: `activation did not start: ${started.failure.reason}` };
  // Whatever else (a dropped connection included), the agent's files say whether it started.
  const activation = await awaitAgent(agent, 'activate', deadline(), input.onLine, started);
  const log = activation.log;
  const report = activation.report;
  if (!report) {
    // Only an agent that never said it started, and has no record of it, did not start it.
    if (activation.notStarted && !started.started) return { outcome: 'failed', error: `activation did not start: ${started.failure?.reason ?? activation.error}`, log };
    return stateUnknown(activation.error, log);
  }
  if (report.status?.kind === 'refused') {
    return { outcome: 'failed', error: `${outPath} is not a system: bin/switch-to-configuration is missing (set checkSystem: false to skip this check)`, log };
  }
  onPhase('verify', goal === 'boot' ? 'profile points at the new system' : '/run/current-system points at the new system');
  const undo = async (problem: string): Promise<ActivationResult> => {
    onPhase('rollback', `back to ${describe(report.before)}`);
    const rollback = await rollbackNode(input, report.before, deadline());
    log.push(...rollback.log);
    if (rollback.refusal) return { ...rollback.refusal, error: `${problem}; ${rollback.refusal.error}`, log };
    return rollback.ok
      ? { outcome: 'rolled-back', error: `${problem}; rolled back to ${describe(report.before)}`, log }
      : { outcome: 'rollback-failed', error: `${problem}; ROLLBACK FAILED: ${rollback.error}. ${manualRecovery(node, report.before)}`, log };
  };
  // Already decided by the watchdog (fleet could not reach the node during the window): judge that instead.
  const decided = watchdog !== undefined && report.status?.kind === 'done' && report.confirmStatus !== undefined;
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
  const confirm = () => sendConfirmation(input, watchdog.token, windowEnds);
  const sent: Confirmation = decided ? { ok: false, error: 'the node could not be reached while its window was open' } : await (input.confirms ? input.confirms.confirming(confirm) : confirm());
  const confirmed = await awaitAgent(agent, 'confirm', deadline(watchdog.seconds * 1000), input.onLine, sent.reply);
  log.push(...confirmed.log);
  if (!confirmed.report && confirmed.notStarted) return afterRestart(input, report.before, watchdog.seconds, log);
  if (!confirmed.report) return stateUnknown(confirmed.error, log);
  const status = confirmed.report.status!;
  if (status.kind === 'expired') {
    const why = `the confirmation did not arrive within ${watchdog.seconds}s${sent.error ? ` (${sent.error})` : ''}`;
    const reverted = judgeRollback(await awaitAgent(agent, 'rollback', deadline(), input.onLine), goal, report.before);
    log.push(...reverted.log);
    // Never attempted for want of the deployer's own resources: said so, apart from a node that could not be reached.
    const cause = sent.overloaded ? { cause: OVERLOADED } : {};
    const who = sent.overloaded ? `${OVERLOADED}: ` : '';
    if (reverted.ok) return { outcome: 'rolled-back', error: `${who}${why}; the node's watchdog rolled it back to ${describe(report.before)}`, log, ...cause };
    return { outcome: 'rollback-failed', error: `${who}${why}; the node's watchdog could not roll it back: ${reverted.error}. ${manualRecovery(node, report.before)}`, log, ...cause };
  }
  if (status.kind === 'stood-down') return stoodDown(status.why, confirmed.report.now, log);
  const confirmProblem = status.kind === 'done' ? describeFailure({ ...confirmed.report, status }, goal, outPath) : describeConfirmFailure(status);
  return confirmProblem ? undo(confirmProblem) : { outcome: 'activated', log, now: confirmed.report.now, before: report.before };
}

function stateUnknown(error: string | undefined, log: string[]): ActivationResult {
  return { outcome: 'rollback-failed', error: `${error ?? 'no result'}; the node's state is unknown: check it (fleet plan)`, log };
}

/** The watchdog did not act: another run took the node over during its window, or switched it to another system. */
function stoodDown(why: 'lock' | 'replaced', now: SystemState, log: string[]): ActivationResult {
  if (why === 'lock') return { outcome: 'locked', error: `another run took over this node's lock during its confirmation window; its watchdog left the node to that run (it runs ${describe(now)})`, log };
  return { outcome: 'failed', error: `the node was switched to another system during its confirmation window, not by this run; its watchdog left it so (it runs ${describe(now)})`, log };
}

/** The run dir vanished inside the window: the node restarted (/run is cleared). The profile never moved,
 *  so it must have come back on the recorded system; fleet checks that rather than assume it. */
async function afterRestart(input: ActivateInput, before: SystemState, windowSeconds: number, log: string[]): Promise<ActivationResult> {
  const { agent, goal } = input;
  const { node } = agent;
  const why = `the node restarted within its ${windowSeconds}s window, before the confirmation`;
  let now: SystemState;
  try {
    now = await readTargetState(agent.target, input.outPath);
  } catch (error) {
    return { outcome: 'rollback-failed', error: `${why}, and it cannot be read now: ${(error as Error).message}. ${manualRecovery(node, before)}`, log };
  }
  if (restored(goal, before, now)) return { outcome: 'rolled-back', error: `${why}; it came back on ${describe(before)}`, log };
  return { outcome: 'rollback-failed', error: `${why}; ${mismatch(goal, before, now)}. ${manualRecovery(node, before)}`, log };
}

/** Puts a node this run activated (and confirmed) back on what its agent recorded before: a failed health
 *  check, or a wave that failed. `why` leads the message. A node another run holds now is not touched (`locked`). */
export async function rollbackActivated(input: AgentInput, why: string): Promise<ActivationResult> {
  const { agent } = input;
  input.onPhase('rollback', `back to what ${agent.dir}/before records`);
  const r = await rollbackNode(input, undefined, agentDeadline(agent.node));
  if (r.refusal) return { ...r.refusal, error: `${why}; ${r.refusal.error}`, log: r.log };
  if (r.ok) return { outcome: 'rolled-back', error: `${why}; rolled back to ${describe(r.before!)}`, log: r.log, ...(r.now ? { now: r.now } : {}) };
  return { outcome: 'rollback-failed', error: `${why}; ROLLBACK FAILED: ${r.error}.${r.before ? ` ${manualRecovery(agent.node, r.before)}` : ''}`, log: r.log };
}

/** Why the step after a confirmation failed (the watchdog's `confirm.status`). */
export function describeConfirmFailure(status: ConfirmStatus): string {
  switch (status.kind) {
    case 'profile-failed':
      return `confirmed, but setting the profile failed (nix-env exit ${status.code})`;
    case 'boot-failed':
      return `confirmed, but making it the boot default failed (switch-to-configuration boot ${exitText(status.code)})`;
    case 'unknown':
      return `the watchdog reported ${status.text}`;
    default:
      return `the watchdog reported ${status.kind}`;
  }
}

interface Confirmation {
  ok: boolean;
  error?: string;
  reply?: Reply<ConfirmStatus>;
  /** No attempt got as far as a connection: the deployer could not start ssh (processes, files, memory). */
  overloaded?: boolean;
}

/** ssh could not even be started on the deployer: out of processes, file descriptors or memory. */
export function deployerResourceFailure(reason: string): boolean {
  return /\b(EAGAIN|EMFILE|ENFILE|ENOMEM)\b/.test(reason);
}

/** The confirmation rides a brand-new SSH connection (own TCP connection and authentication): it proves
 *  the node can still be reached, which a multiplexed session cannot. Tried again until the window ends.
 *  reply: the watchdog's report, with its verdict when that came quickly. */
async function sendConfirmation(input: ActivateInput, token: string, windowEndsMs: number): Promise<Confirmation> {
  const { agent } = input;
  let failure: string | undefined;
  let connected = false; // some attempt got a connection (or at least an ssh process) going
  // The window is at least 1 s from now (activateNode): there is always time for a first attempt.
  for (;;) {
    const r = await agent.confirm(token, {
      timeoutMs: Math.max(1, Math.min(windowEndsMs - Date.now(), agent.node.connectTimeoutMs + 10_000)), ...(input.onLine ? { onLine: input.onLine } : {}),
    });
    if (r.connectMs !== undefined) input.confirms?.observe(r.connectMs);
    if (r.report) return { ok: true, reply: r };
    const f = r.failure!;
    if (!deployerResourceFailure(f.reason)) connected = true;
    if (!connected && windowEndsMs - Date.now() <= 0) return { ok: false, overloaded: true, error: `the deployer could not start a new SSH connection: ${f.reason}` };
    // tooLate: the node's watchdog had already decided (fleet's view of the window runs a little behind the node's).
    if (f.kind === 'agent' && f.exit === 'tooLate') return { ok: false, error: `${failure ? `${failure}; ` : ''}a new connection got through only after the window had closed` };
    failure = `a new SSH connection failed: ${f.reason}`;
    // A cut (ssh could not get through, or timed out) is tried again; anything else is the target's answer, final.
    if (f.kind !== 'cut' || windowEndsMs - Date.now() <= 0) return { ok: false, error: failure };
    await sleep(Math.min(1000, Math.max(0, windowEndsMs - Date.now())));
  }
}

interface RollbackVerdict {
  ok: boolean;
  error?: string;
  log: string[];
  before?: SystemState;
  now?: SystemState;
  /** Refused by the lock check: nothing was undone. */
  refusal?: ActivationResult;
}

/** Ask the agent to undo this run's changes (after checking the lock), then check the live system against what it recorded. */
async function rollbackNode(input: AgentInput, before: SystemState | undefined, deadlineMs: number): Promise<RollbackVerdict> {
  const { agent } = input;
  const start = () => agent.rollback({ systemd: input.systemd, waitSeconds: waitSeconds(deadlineMs), ...(input.onLine ? { onLine: input.onLine } : {}) });
  let started = await start();
  if (started.failure?.kind === 'lock') return { ok: false, log: [], refusal: lockRefusal(agent, started.failure, 'not rolled back') };
  // A cut: the agent may have started; anything else: it did not.
  if (!started.started && started.failure && started.failure.kind !== 'cut') return { ok: false, error: `the rollback did not start: ${started.failure.reason}`, log: [] };
  let result = await awaitAgent(agent, 'rollback', deadlineMs, input.onLine, started);
  if (result.notStarted && !started.started) {
    // The connection dropped before the agent began: ask once more now that it answers.
    started = await start();
    if (started.failure?.kind === 'lock') return { ok: false, log: [], refusal: lockRefusal(agent, started.failure, 'not rolled back') };
    if (!started.started && started.failure) return { ok: false, error: `the rollback did not start: ${started.failure.reason}`, log: [] };
    result = await awaitAgent(agent, 'rollback', deadlineMs, input.onLine, started);
  }
  return judgeRollback(result, input.goal, before);
}

/** A finished rollback (fleet's, or the watchdog's own) is good only if the node runs exactly what was
 *  recorded; `before` defaults to the agent's own record. */
function judgeRollback(result: Awaited<StatusOf['rollback']>, goal: Goal, before: SystemState | undefined): RollbackVerdict {
  const { report, log } = result;
  if (!report) return { ok: false, error: result.error ?? 'no result', log };
  const status = report.status!;
  if (status.kind !== 'done') return { ok: false, error: status.kind === 'failed' ? status.why : status.kind === 'unknown' ? status.text : 'the agent could not start the rollback in the background (systemd-run or setsid failed)', log };
  const recorded = before ?? report.before;
  if (!restored(goal, recorded, report.now)) return { ok: false, error: `after rollback ${mismatch(goal, recorded, report.now)}`, log, before: recorded };
  return { ok: true, log, before: recorded, now: report.now };
}
