// The reboot step of a run (--reboot, fleet reboot): after the node's activation, reboot it, wait for a new boot id
// within --reboot-timeout, check that /run/booted-system and /run/current-system are the system it must run, then
// hand it to the health checks. A node not back in time is `unreachable-after-reboot` (state unknown); one back on
// another system goes back to what it ran before this run. deploy puts this stage after activation; in a staged
// rollout a wave's reboots are part of the wave, so they gate the next one as health checks do.
import { createAgentClient, type AgentClient } from '../agent/client.js';
import type { SystemState } from '../target/state.js';
import { quoteArgv } from '../transport/quote.js';
import { restoreGeneration } from './restore.js';
import type { RebootContext, Settled } from './types.js';
import { rebootAndWait, type RebootEnd } from './wait.js';

type StageResult = { kind: 'next' } | ({ kind: 'done' } & Settled);

const next: StageResult = { kind: 'next' };

/** The node's agent client as this run: its run dir, units and lock. */
function agentOf(ctx: RebootContext): AgentClient {
  return createAgentClient(ctx.run.pool.targetOf(ctx.node), { id: ctx.run.id, lock: ctx.run.lockIdentity });
}

/** Reboots the node and waits until it is back: `expected` is what it must run then. */
function reboot(ctx: RebootContext, agent: AgentClient, expected: string): Promise<RebootEnd> {
  const { run, node } = ctx;
  return rebootAndWait({
    agent, expected, systemd: run.targets.get(node.name)?.systemd ?? false, timeoutMs: ctx.policy.reboot!.timeoutMs,
    lock: { op: 'take', identity: run.lockIdentity }, onPhase: (phase, detail) => ctx.phase(phase, detail),
    onRequested: () => run.locks.released(node),
  });
}

/** The ends of a reboot other than being back (shared by the step and the way back). */
function notBack(end: Exclude<RebootEnd, { kind: 'back' }>): Settled {
  if (end.kind === 'not-asked') return { outcome: end.outcome, error: end.reason };
  if (end.kind === 'taken') return { outcome: 'locked', error: end.reason };
  return { outcome: 'unreachable-after-reboot', error: end.reason };
}

/** Does the node run `system`, booted and live? */
export function runsBooted(now: SystemState, system: string | undefined): boolean {
  return system !== undefined && now.bootedSystem === system && now.currentSystem === system;
}

export const rebootStage = {
  name: 'reboot' as const,
  prepares: false,
  // Its own check of the run's stop (below): an activated node is not `skipped` because its reboot did not start.
  startsWork: false,
  applies(ctx: RebootContext): boolean {
    const { reboot, goal } = ctx.policy;
    if (!reboot) return false;
    if (reboot.every) return true;
    // --reboot: what this run activates, and a node whose new system waits for its reboot (an earlier `boot`).
    return (goal === 'boot' || goal === 'switch') && (ctx.plan.activate || ctx.plan.from?.bootedSystem !== ctx.plan.outPath);
  },
  async run(ctx: RebootContext): Promise<StageResult> {
    const { run, plan } = ctx;
    if (run.stop.signal.aborted) {
      const why = 'not rebooted: the run was stopped before (Ctrl+C, or an earlier failure without --keep-going)';
      if (ctx.activation || !ctx.policy.reboot!.every) {
        ctx.phase('reboot', `${why}; it boots the new system at its next reboot`);
        return next;
      }
      return { kind: 'done', outcome: 'skipped', error: why };
    }
    const end = await reboot(ctx, agentOf(ctx), plan.outPath);
    if (end.kind !== 'back') {
      const settled = notBack(end);
      // Nothing rebooted: this run's activation is undone as any failure after it.
      if (end.kind === 'not-asked' && ctx.activation && settled.outcome === 'failed') return done(await ctx.undo(settled.error!));
      return done(settled);
    }
    ctx.rebooted = end.rebooted;
    run.locks.hold(ctx.node);
    const now = end.rebooted.now;
    if (runsBooted(now, plan.outPath)) {
      ctx.phase('reboot', `back on ${plan.outPath} (boot ${end.rebooted.bootId.slice(0, 8)})`);
      return next;
    }
    const what = `it came back (boot ${end.rebooted.bootId.slice(0, 8)}) running ${now.currentSystem ?? 'nothing'}, booted ${now.bootedSystem ?? 'nothing'}, not ${plan.outPath}`;
    if (!ctx.activation) return done({ outcome: 'failed', error: `${what}: its boot default at the start of this run` });
    const previous = runsBooted(now, ctx.activation.before?.currentSystem) || runsBooted(now, ctx.activation.before?.profileTarget);
    // Back on what it ran before: the boot loader chose the older entry (a failed boot, boot counting, someone at the
    // console). Its profile still names the new system, which the next reboot would try again: the way back sets it.
    return done(await ctx.undo(previous ? `${what}: the system it ran before this run (the boot loader chose the older entry)` : what));
  },
};

const done = (s: Settled): StageResult => ({ kind: 'done', ...s });

/**
 * Puts a node this run activated and rebooted back on what it ran before (a health check failed after the reboot,
 * its wave failed, or it came back on another system): its previous generation made the profile's and the boot
 * entry again, then, unless it already runs that system, one more reboot into it, checked as the first.
 */
export async function undoAfterReboot(ctx: RebootContext, why: string): Promise<Settled> {
  const before = ctx.activation?.before;
  if (!before) return { outcome: 'failed', error: `${why}; nothing was deployed to undo` };
  const back = before.profileTarget;
  ctx.phase('rollback', `back to ${before.profileLink ?? 'no profile'} (${back ?? 'nothing'}), as its boot entry${ctx.rebooted && runsBooted(ctx.rebooted.now, back) ? '' : ', then a reboot into it'}`);
  const agent = agentOf(ctx);
  const restored = await restoreGeneration(agent, before, ctx.run.targets.get(ctx.node.name)?.systemd ?? false);
  const manual = manualSteps(ctx, before);
  if (!restored.ok) return { outcome: 'rollback-failed', error: `${why}; ROLLBACK FAILED: ${restored.error}. ${manual}`, log: restored.log };
  if (ctx.rebooted && runsBooted(ctx.rebooted.now, back)) {
    return { outcome: 'rolled-back', error: `${why}; its profile is back on ${before.profileLink} (${back})`, log: restored.log, now: restored.now };
  }
  const end = await reboot(ctx, agent, back!);
  if (end.kind !== 'back') {
    const settled = notBack(end);
    return settled.outcome === 'unreachable-after-reboot'
      ? { ...settled, error: `${why}; rolled back to ${before.profileLink} and rebooted into it, but it ${settled.error}` }
      : { outcome: 'rollback-failed', error: `${why}; rolled back to ${before.profileLink}, but ${settled.error}. ${manual}` };
  }
  ctx.rebooted = end.rebooted;
  ctx.run.locks.hold(ctx.node);
  const now = end.rebooted.now;
  if (!runsBooted(now, back)) {
    return { outcome: 'rollback-failed', error: `${why}; rolled back to ${before.profileLink} and rebooted, but it runs ${now.currentSystem ?? 'nothing'} (booted ${now.bootedSystem ?? 'nothing'}). ${manual}`, log: restored.log };
  }
  return { outcome: 'rolled-back', error: `${why}; rolled back to ${before.profileLink} (${back}) and rebooted into it`, log: restored.log, now };
}

/** The commands a person runs when fleet could not put the node back. */
function manualSteps(ctx: RebootContext, before: SystemState): string {
  if (before.generation === undefined || !before.profileTarget) return `Inspect ${ctx.node.name} by hand: it had no previous generation.`;
  const steps = [['nix-env', '-p', ctx.node.profile, '--switch-generation', String(before.generation)], [`${before.profileTarget}/bin/switch-to-configuration`, 'boot'], ['reboot']];
  return `On ${ctx.node.name} run: ${steps.map(quoteArgv).join(' && ')}`;
}
