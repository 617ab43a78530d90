// Activation of one node through the target-side agent, and rollback to exactly what it recorded, verified.
// fleet decides from the agent's files and the live system (AgentReport), never from a switch's output.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { Outcome } from '../events.js';
import { goalTraits, isVerified, type Goal } from '../goal.js';
import type { SystemState } from '../plan/types.js';
import type { Host } from '../transport/host.js';
import { quoteArgv } from '../transport/quote.js';
import { failureReason } from '../transport/run.js';
import { activateArgv, newToken, parseWait, rollbackArgv, runDir, waitArgv, type Action, type AgentReport, type Detach } from '../agent/agent.js';

export interface ActivationResult {
  outcome: Outcome;
  error?: string;
  log?: string[];
}

export interface ActivateInput {
  host: Host;
  node: ResolvedNode;
  runId: string;
  goal: Goal;
  outPath: string;
  /** From the probe: detach under systemd-run where the target has systemd, else setsid. */
  systemd: boolean;
  onPhase: (phase: Phase, detail: string) => void;
  /** --verbose: activation output as it comes. */
  onLine?: (line: string) => void;
  /** For `sudo -S` (--ask-sudo-password, FLEET_SUDO_PASSWORD_FILE). */
  sudoPassword?: string;
  /** How long past the switch's own deadline fleet waits for the agent's word (default 60 s). */
  graceMs?: number;
}

/** Prefix with the node's privilege escalation when it is not reached as root. */
export function withPrivilege(node: Pick<ResolvedNode, 'user' | 'privilegeEscalation'>, argv: string[]): string[] {
  return node.user === 'root' ? argv : [...node.privilegeEscalation, ...argv];
}

/** A privileged command and what goes to its stdin: with a sudo password, `sudo -S -p ''` reads it
 *  there, so it never appears in argv, logs, events or any process list. */
export function privileged(node: Pick<ResolvedNode, 'user' | 'privilegeEscalation'>, argv: string[], sudoPassword?: string): { argv: string[]; input?: string } {
  if (node.user === 'root' || sudoPassword === undefined) return { argv: withPrivilege(node, argv) };
  // Only sudo reads a password this way; the CLI refuses a password for any other escalation (checkPasswordEscalation).
  const [sudo, ...rest] = node.privilegeEscalation;
  return { argv: [sudo!, '-S', '-p', '', ...rest, ...argv], input: `${sudoPassword}\n` };
}

/** The switch's own deadline on the target; fleet waits a minute longer for the agent to report it. */
function switchSeconds(node: ResolvedNode): number {
  return Math.max(1, Math.ceil(node.activationTimeoutMs / 1000));
}

const TAIL = 20;

/** Waits for the agent's result of `action`, reconnecting while the connection is down, until the deadline. */
export async function awaitAgent(host: Host, node: ResolvedNode, dir: string, action: Action, deadlineMs: number, onLine?: (line: string) => void): Promise<{ report?: AgentReport; log: string[]; error?: string; notStarted?: boolean }> {
  let seen = 0;
  let log: string[] = [];
  let lastError = '';
  for (;;) {
    const remaining = deadlineMs - Date.now();
    if (remaining <= 0) return { log, error: `no result from the target's agent in time${lastError ? ` (last error: ${lastError})` : ''}` };
    const seconds = Math.max(1, Math.min(Math.ceil(remaining / 1000), 300));
    const token = newToken();
    let afterToken = false;
    const r = await host.run(waitArgv(dir, action, seconds, seen, token, node.profile), {
      timeoutMs: seconds * 1000 + node.connectTimeoutMs + 15_000,
      onLine: (line) => {
        if (line === token) afterToken = true;
        else if (!afterToken && line.trim() !== '') onLine?.(line);
      },
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
      return `switch-to-configuration ${goal} failed (${code === '124' || code === '137' ? 'timed out' : `exit ${code}`})`;
    case 'detach-failed':
      return 'the agent could not start the activation in the background (systemd-run or setsid failed)';
    default:
      return `the agent reported ${report.status}`;
  }
}

function describe(state: SystemState): string {
  return `${state.profileLink ?? 'no profile'} (${state.currentSystem ?? 'nothing running'})`;
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
  const { host, node, goal, outPath, onPhase } = input;
  const dir = runDir(input.runId, node.name);
  const seconds = switchSeconds(node);
  const detach = (action: Action): Detach => ({ seconds, systemd: input.systemd, unit: `fleet-${input.runId}-${node.name}-${action}` });
  const deadline = () => Date.now() + seconds * 1000 + (input.graceMs ?? 60_000);

  onPhase('activate', `switch-to-configuration ${goal}${input.systemd ? ' (systemd-run)' : ''}`);
  const setsProfile = goalTraits(goal).setsProfile;
  const command = privileged(node, activateArgv(dir, node.profile, outPath, goal, setsProfile, node.checkSystem, detach('activate')), input.sudoPassword);
  const started = await host.run(command.argv, { timeoutMs: node.connectTimeoutMs + 30_000, ...(command.input ? { input: command.input } : {}) });
  if (started.exitCode === 93) return { outcome: 'failed', error: `activation did not start: ${failureReason(started)}` };
  // Whatever the answer (a dropped connection included), the agent's files say whether it started.
  const activation = await awaitAgent(host, node, dir, 'activate', deadline(), input.onLine);
  const log = activation.log;
  const report = activation.report;
  if (!report) {
    if (!started.failed) return { outcome: 'rollback-failed', error: `${activation.error}; the node's state is unknown: check it (fleet plan)`, log };
    return { outcome: 'failed', error: `activation did not start: ${failureReason(started)}`, log };
  }
  if (report.status === 'refused') {
    return { outcome: 'failed', error: `${outPath} is not a system: bin/switch-to-configuration is missing (set checkSystem: false to skip this check)`, log };
  }
  onPhase('verify', goal === 'boot' ? 'profile points at the new system' : '/run/current-system points at the new system');
  const problem = describeFailure(report, goal, outPath);
  if (!problem) return { outcome: 'activated', log };
  // Nothing was changed (the profile could not be set, or a dry run failed): there is nothing to undo.
  if (!report.profileSet && (!report.switchStarted || goal === 'dry-activate')) return { outcome: 'failed', error: `${problem}; nothing was changed`, log };

  onPhase('rollback', `back to ${describe(report.before)}`);
  const rollback = await rollbackNode(input, dir, report.before, detach('rollback'), deadline());
  log.push(...rollback.log);
  return rollback.ok
    ? { outcome: 'rolled-back', error: `${problem}; rolled back to ${describe(report.before)}`, log }
    : { outcome: 'rollback-failed', error: `${problem}; ROLLBACK FAILED: ${rollback.error}. ${manualRecovery(node, report.before)}`, log };
}

/** Ask the agent to undo this run's changes, then check the live system against what it recorded. */
async function rollbackNode(input: ActivateInput, dir: string, before: SystemState, detach: Detach, deadlineMs: number): Promise<{ ok: boolean; error?: string; log: string[] }> {
  const { host, node, goal } = input;
  const command = privileged(node, rollbackArgv(dir, detach), input.sudoPassword);
  const start = () => host.run(command.argv, { timeoutMs: node.connectTimeoutMs + 30_000, ...(command.input ? { input: command.input } : {}) });
  let started = await start();
  // 255: the connection dropped and the agent may have started; any other failure: it did not.
  if (started.failed && started.exitCode !== 255) return { ok: false, error: `the rollback did not start: ${failureReason(started)}`, log: [] };
  let result = await awaitAgent(host, node, dir, 'rollback', deadlineMs, input.onLine);
  if (result.notStarted && started.exitCode === 255) {
    // The connection dropped before the agent began: ask once more now that it answers.
    started = await start();
    if (started.failed) return { ok: false, error: `the rollback did not start: ${failureReason(started)}`, log: [] };
    result = await awaitAgent(host, node, dir, 'rollback', deadlineMs, input.onLine);
  }
  if (!result.report) return { ok: false, error: result.error ?? 'no result', log: result.log };
  if (result.report.status !== 'done') return { ok: false, error: result.report.status.replace(/^failed /, ''), log: result.log };
  if (!restored(goal, before, result.report.now)) {
    return { ok: false, error: `after rollback the node runs ${describe(result.report.now)}, expected ${describe(before)}`, log: result.log };
  }
  return { ok: true, log: result.log };
}
