// Activation of one node, with rollback to exactly the generation it ran before, verified.
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { TargetState } from '../plan/types.js';
import type { Host } from '../transport/host.js';
import { tailLines, type CommandResult } from '../transport/run.js';
import type { Goal, Outcome } from './events.js';
import { readTargetState } from './query.js';
import { activateArgv, parseActivation, switchArgv, withPrivilege, type ActivationReport } from './remote.js';

export interface ActivationResult {
  outcome: Outcome;
  error?: string;
  log?: string[];
}

export interface ActivateInput {
  host: Host;
  node: ResolvedNode;
  goal: Goal;
  outPath: string;
  /** From the query: switch under systemd-run (detached from ssh) where the target has systemd. */
  systemd: boolean;
  onPhase: (phase: Phase, detail: string) => void;
  /** --verbose: activation output as it comes. */
  onLine?: (line: string) => void;
}

const SETS_PROFILE: readonly Goal[] = ['switch', 'boot'];
const CHANGES_RUNNING: readonly Goal[] = ['switch', 'test'];

/** The remote deadline for one switch; fleet's own deadline adds 15 s for ssh to report it. */
function timeoutSeconds(node: ResolvedNode): number {
  return Math.max(1, Math.ceil(node.activationTimeoutMs / 1000));
}

class StepError extends Error {
  constructor(message: string, readonly result?: CommandResult) {
    super(message);
  }
}

async function runStep(host: Host, node: ResolvedNode, argv: string[], what: string, timeoutMs?: number, onLine?: (line: string) => void): Promise<CommandResult> {
  const r = await host.run(withPrivilege(node, argv), { timeoutMs, ...(onLine ? { onLine } : {}) });
  if (r.failed) throw new StepError(`${what} failed${r.timedOut ? ' (timed out)' : ''}: ${r.message}`, r);
  return r;
}

function verifies(goal: Goal, state: Pick<TargetState, 'currentSystem' | 'profileTarget'>, outPath: string): boolean {
  if (CHANGES_RUNNING.includes(goal) && state.currentSystem !== outPath) return false;
  if (SETS_PROFILE.includes(goal) && state.profileTarget !== outPath) return false;
  return true;
}

/** Activation in one round trip (ACTIVATE_SCRIPT); on any failure after it recorded the node's state,
 *  rollback to exactly that state. */
export async function activateNode(input: ActivateInput): Promise<ActivationResult> {
  const { host, node, goal, outPath, onPhase } = input;
  const switchCommand = switchArgv(outPath, goal, { systemd: input.systemd }, timeoutSeconds(node), `fleet-switch-${node.name}-${Date.now()}`);
  const markers: Record<string, () => void> = {
    '@fleet step=profile': () => onPhase('activate', `setting profile ${node.profile}`),
    '@fleet step=switch': () => onPhase('activate', `switch-to-configuration ${goal}${input.systemd ? ' (systemd-run)' : ''}`),
    '@fleet step=verify': () => onPhase('verify', goal === 'boot' ? 'profile points at the new system' : '/run/current-system points at the new system'),
  };
  const onLine = (line: string) => (markers[line.trim()] ?? (() => input.onLine?.(line)))();
  const argv = withPrivilege(node, activateArgv(node.profile, outPath, SETS_PROFILE.includes(goal), node.checkSystem, switchCommand));
  const r = await host.run(argv, { timeoutMs: node.activationTimeoutMs + 15_000, onLine });
  const report = parseActivation(r.stdout);
  const log = tailLines({ stdout: r.stdout.split('\n').filter((l) => !l.startsWith('@fleet ')).join('\n'), stderr: r.stderr });
  if (!report.recorded) return { outcome: 'failed', error: `activation did not start: ${r.message || 'no answer'}`, log };
  if (report.refused) {
    return { outcome: 'failed', error: `${outPath} is not a system: bin/switch-to-configuration is missing (set checkSystem: false to skip this check)`, log };
  }
  const before: TargetState = { ...report.before, hasOut: true, systemd: input.systemd };
  const problem = describeFailure(r, report, goal, outPath);
  if (!problem) return { outcome: 'activated', log };
  onPhase('rollback', `back to ${before.profileLink ?? 'no profile'} / ${before.currentSystem ?? 'no running system'}`);
  const rollback = await rollbackNode(host, node, goal, before);
  log.push(...rollback.log);
  return rollback.ok
    ? { outcome: 'rolled-back', error: `${problem}; rolled back to ${describe(before)}`, log }
    : { outcome: 'rollback-failed', error: `${problem}; ROLLBACK FAILED: ${rollback.error}. ${manualRecovery(node, before)}`, log };
}

/** Why an activation that started did not succeed, or undefined when it did. */
export function describeFailure(r: CommandResult, report: ActivationReport, goal: Goal, outPath: string): string | undefined {
  const timedOut = r.timedOut || report.switchExit === 124 || report.switchExit === 137;
  if (r.exitCode === 91) return `setting the profile failed: ${r.message}`;
  if (report.switchExit !== undefined) return `switch-to-configuration ${goal} failed (${timedOut ? 'timed out' : `exit ${report.switchExit}`})`;
  if (r.failed || !report.done) return `activation failed${r.timedOut ? ' (timed out)' : ''}: ${r.message || 'the connection ended early'}`;
  if (goal === 'dry-activate' || verifies(goal, report.after, outPath)) return undefined;
  return `verification failed: /run/current-system is ${report.after.currentSystem ?? 'absent'}, profile is ${report.after.profileTarget ?? 'absent'}`;
}

function resultLog(error: unknown): string[] {
  return error instanceof StepError && error.result ? tailLines(error.result) : [];
}

function describe(state: TargetState): string {
  return `${state.profileLink ?? 'no profile'} (${state.currentSystem ?? 'nothing running'})`;
}

/** What a person must run by hand when fleet could not restore the node. */
export function manualRecovery(node: ResolvedNode, before: TargetState): string {
  const steps: string[] = [];
  if (before.generation !== undefined) steps.push(`nix-env -p ${node.profile} --switch-generation ${before.generation}`);
  if (before.currentSystem) steps.push(`${before.currentSystem}/bin/switch-to-configuration switch`);
  return steps.length ? `On ${node.name} run: ${steps.join(' && ')}` : `Inspect ${node.name} by hand: it had no previous system.`;
}

/** Restore the recorded generation and running system, then verify both. */
export async function rollbackNode(host: Host, node: ResolvedNode, goal: Goal, before: TargetState): Promise<{ ok: boolean; error?: string; log: string[] }> {
  const log: string[] = [];
  try {
    if (SETS_PROFILE.includes(goal)) {
      const argv = before.generation !== undefined
        ? ['nix-env', '-p', node.profile, '--switch-generation', String(before.generation)]
        : ['rm', '-f', node.profile]; // there was no profile before: there is none after
      log.push(...tailLines(await runStep(host, node, argv, 'restoring the profile')));
    }
    const seconds = timeoutSeconds(node);
    if (CHANGES_RUNNING.includes(goal)) {
      if (before.currentSystem) {
        // The old running system may differ from the old profile (a previous `test`): keep the boot entry as it was.
        const oldGoal = before.currentSystem === before.profileTarget ? 'switch' : 'test';
        const argv = switchArgv(before.currentSystem, oldGoal, before, seconds, `fleet-rollback-${node.name}-${Date.now()}`);
        log.push(...tailLines(await runStep(host, node, argv, `re-activating ${before.currentSystem}`, node.activationTimeoutMs + 15_000)));
      } else {
        await runStep(host, node, ['rm', '-f', '/run/current-system'], 'removing /run/current-system');
      }
    } else if (goal === 'boot' && before.profileTarget) {
      const argv = switchArgv(before.profileTarget, 'boot', before, seconds, `fleet-rollback-${node.name}-${Date.now()}`);
      log.push(...tailLines(await runStep(host, node, argv, 'restoring the boot entry', node.activationTimeoutMs + 15_000)));
    }
    const after = await readTargetState(host, node, before.currentSystem ?? '/nonexistent');
    const profileOk = !SETS_PROFILE.includes(goal) || after.profileLink === before.profileLink;
    const runningOk = after.currentSystem === before.currentSystem;
    if (!profileOk || !runningOk) {
      return { ok: false, error: `after rollback the node runs ${describe(after)}, expected ${describe(before)}`, log };
    }
    return { ok: true, log };
  } catch (error) {
    return { ok: false, error: (error as Error).message, log: [...log, ...resultLog(error)] };
  }
}
