// Activation of one node, with rollback to exactly the generation it ran before, verified.
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { TargetState } from '../plan/types.js';
import type { Host } from '../transport/host.js';
import { tailLines, type CommandResult } from '../transport/run.js';
import type { Goal, Outcome } from './events.js';
import { parseProbe, probeArgv, switchArgv, withPrivilege } from './remote.js';

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
  onPhase: (phase: Phase, detail: string) => void;
  /** --verbose: activation output as it comes. */
  onLine?: (line: string) => void;
}

const SETS_PROFILE: readonly Goal[] = ['switch', 'boot'];
const CHANGES_RUNNING: readonly Goal[] = ['switch', 'test'];

async function probe(host: Host, node: ResolvedNode, outPath: string): Promise<TargetState> {
  const r = await host.run(probeArgv(node.profile, outPath), { timeoutMs: node.connectTimeoutMs + 30_000 });
  if (r.failed) throw new StepError(`cannot read the node's state: ${r.message}`, r);
  return parseProbe(r.stdout);
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

function verifies(goal: Goal, state: TargetState, outPath: string): boolean {
  if (CHANGES_RUNNING.includes(goal) && state.currentSystem !== outPath) return false;
  if (SETS_PROFILE.includes(goal) && state.profileTarget !== outPath) return false;
  return true;
}

export async function activateNode(input: ActivateInput): Promise<ActivationResult> {
  const { host, node, goal, outPath, onPhase } = input;
  const log: string[] = [];
  // 1. Record exactly what runs now: rollback returns to this, not to "the previous generation".
  let before: TargetState;
  try {
    before = await probe(host, node, outPath);
  } catch (error) {
    return { outcome: 'failed', error: (error as Error).message, log: resultLog(error) };
  }
  if (node.checkSystem && !before.isSystem) {
    return { outcome: 'failed', error: `${outPath} is not a system: bin/switch-to-configuration is missing (set checkSystem: false to skip this check)` };
  }
  const seconds = Math.max(1, Math.ceil(node.activationTimeoutMs / 1000));
  try {
    if (SETS_PROFILE.includes(goal)) {
      onPhase('activate', `setting profile ${node.profile}`);
      log.push(...tailLines(await runStep(host, node, ['nix-env', '-p', node.profile, '--set', outPath], 'setting the profile')));
    }
    onPhase('activate', `switch-to-configuration ${goal}${before.systemd ? ' (systemd-run)' : ''}`);
    const unit = `fleet-switch-${node.name}-${Date.now()}`;
    const switched = await runStep(host, node, switchArgv(outPath, goal, before, seconds, unit), `switch-to-configuration ${goal}`, node.activationTimeoutMs + 15_000, input.onLine);
    log.push(...tailLines(switched));
    if (goal === 'dry-activate') return { outcome: 'activated', log };
    onPhase('verify', goal === 'boot' ? 'profile points at the new system' : '/run/current-system points at the new system');
    const after = await probe(host, node, outPath);
    if (!verifies(goal, after, outPath)) {
      throw new StepError(`verification failed: /run/current-system is ${after.currentSystem ?? 'absent'}, profile is ${after.profileTarget ?? 'absent'}`);
    }
    return { outcome: 'activated', log };
  } catch (error) {
    log.push(...resultLog(error));
    const message = (error as Error).message;
    onPhase('rollback', `back to ${before.profileLink ?? 'no profile'} / ${before.currentSystem ?? 'no running system'}`);
    const rollback = await rollbackNode(host, node, goal, before);
    log.push(...rollback.log);
    return rollback.ok
      ? { outcome: 'rolled-back', error: `${message}; rolled back to ${describe(before)}`, log }
      : { outcome: 'rollback-failed', error: `${message}; ROLLBACK FAILED: ${rollback.error}. ${manualRecovery(node, before)}`, log };
  }
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
    const seconds = Math.max(1, Math.ceil(node.activationTimeoutMs / 1000));
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
    const after = await probe(host, node, before.currentSystem ?? '/nonexistent');
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
