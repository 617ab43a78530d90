// The per-node pipeline: small stages the scheduler runs in order. The preparing ones (build, copy)
// change nothing that runs; a staged rollout runs them for every node at once and the others wave by wave.
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { NodeCause, Outcome } from '../events.js';
import type { NodePlan } from '../plan/types.js';
import { formatDestination, SshConnectError } from '../transport/ssh.js';
import { activateNode, rollbackActivated, type ActivationResult, type AgentInput } from './activate.js';
import { runHealthChecks } from '../health/run.js';
import type { Builds } from '../build/builds.js';
import { bytesOf, closureSizes, narBytes } from '../transport/copy.js';
import { explainCopyFailure } from '../copy/copy-errors.js';
import { copyViaCache } from '../cache/route.js';
import { stopReason, type RunContext } from './context.js';
import type { Ledger } from './ledger.js';
import { confirmWindowMs, type DeployPolicy } from './policy.js';
import { OVERLOADED } from './confirm-plan.js';
import { finishNode } from './record.js';
import { createAgentClient, type AgentClient } from '../agent/client.js';
import { systemOf, type RecordKind } from '../records/record.js';
import type { Goal } from '../goal.js';
import { keysStage } from '../keys/stage.js';
import { rebootStage, undoAfterReboot } from '../reboot/stage.js';
import type { Rebooted } from '../reboot/types.js';

/** A deploy run's three parts, as the scheduler hands them to each node's stages. */
export interface DeployRun {
  readonly run: RunContext;
  readonly policy: DeployPolicy;
  readonly ledger: Ledger;
}

export interface NodeContext extends DeployRun {
  plan: NodePlan;
  node: ResolvedNode;
  builds: Builds;
  phase(phase: Phase, detail: string): void;
  /** Set once the node is activated (and confirmed): what its agent reported. */
  activation?: ActivationResult;
  /** Set once the node is back from a reboot (src/reboot): from then on the way back goes through another. */
  rebooted?: Rebooted;
  /** rollbackStarted for this node: the reboot step undoes an activation with it. */
  undo(why: string): Promise<ActivationResult>;
}

export type StageResult = { kind: 'next' } | { kind: 'done'; outcome: Outcome; error?: string; log?: string[]; cause?: NodeCause };

export interface Stage {
  name: 'build' | 'copy' | 'keys' | 'activate' | 'reboot' | 'health' | 'record';
  /** Changes nothing that runs on the target: in a staged rollout it goes on while earlier waves activate. */
  prepares: boolean;
  applies(ctx: NodeContext): boolean;
  /** The concurrency pool it runs in (--parallel); none: unbounded (waiting for a build). */
  pool?: 'copy' | 'activate';
  /** Starts work on the target: not begun once the run is stopped. */
  startsWork: boolean;
  run(ctx: NodeContext): Promise<StageResult>;
}

const next: StageResult = { kind: 'next' };
const done = (outcome: Outcome, error?: string, log?: string[], cause?: NodeCause): StageResult => ({ kind: 'done', outcome, ...(error ? { error } : {}), ...(log?.length ? { log } : {}), ...(cause ? { cause } : {}) });

/** Wait for the node's build; a node whose own build failed is `failed`, even after a stop (never `skipped`). */
export const buildStage: Stage = {
  name: 'build',
  prepares: true,
  startsWork: false,
  applies: (ctx) => ctx.plan.buildJob !== undefined,
  async run(ctx) {
    ctx.phase('build', `building on ${ctx.plan.buildJob}`);
    const built = await ctx.builds.result(ctx.plan.buildJob!, ctx.plan.drvPath);
    if (!built) return done('failed', `no build job ${ctx.plan.buildJob}`);
    if (built.built.has(ctx.plan.outPath)) return next;
    if (built.canceled) return done('skipped', stopReason(ctx.run));
    return done('failed', built.error ?? 'build failed', built.log);
  },
};

export const copyStage: Stage = {
  name: 'copy',
  prepares: true,
  pool: 'copy',
  startsWork: true,
  applies: (ctx) => ctx.plan.copy.kind !== 'none',
  async run(ctx) {
    const { run, plan, node } = ctx;
    const copy = plan.copy;
    const buildJob = copy.kind === 'from-build-host' || copy.kind === 'cache' ? copy.buildJob : undefined;
    const from = buildJob !== undefined ? ctx.builds.hostOf(buildJob) : run.pool.local;
    await run.confirms.yieldTo(); // pending confirmations go first: a copy is work that can wait
    if (run.stop.signal.aborted) return done('skipped', stopReason(run));
    if (copy.kind === 'cache' && node.copy.route === 'cache') {
      ctx.phase('copy', `fetching from the cache ${copy.substituter}`);
      const cached = await copyViaCache({ run: run.pool, from, target: run.pool.targetOf(node), node, cache: node.copy.cache, outPath: plan.outPath, emit: run.emit, signal: run.stop.signal });
      if (cached.ok) return next;
      if (run.stop.signal.aborted) return done('skipped', stopReason(run));
      if (copy.strict) return done('failed', `copy: cache! (strict), not pushed: ${cached.reason}`, cached.log);
      run.emit({ type: 'cache-fallback', node: node.name, reason: cached.reason });
      ctx.ledger.warnings.push(`${node.name}: pushed instead of fetched from the cache: ${cached.reason}`);
    }
    ctx.phase('copy', `copying from ${from.label}`);
    // Sized while it copies (sizes are the same on every store): copy-done's bytes cost no time after it.
    const sizes = closureSizes(from, plan.outPath);
    const copied = await run.pool.targetOf(node).copyClosure({ from, path: plan.outPath, signal: run.stop.signal, useSubstitutes: ctx.policy.useSubstitutes });
    if (copied.ok) {
      // A path the closure did not list is asked where it came from: the build host for a direct copy, else here.
      const bytes = bytesOf(await sizes, copied.copied) ?? await narBytes(copied.route === 'direct' ? from : run.pool.local, copied.copied, run.stop.signal).catch(() => undefined);
      run.emit({ type: 'copy-done', node: node.name, route: copied.route, paths: copied.copied.length, ...(bytes !== undefined ? { bytes } : {}) });
      return next;
    }
    if (run.stop.signal.aborted) return done('skipped', stopReason(run)); // cut short by the stop: the target is untouched
    const hint = explainCopyFailure(copied.log.join('\n'), formatDestination(run.pool.endpointOf(node)));
    return done('failed', hint ? `${copied.error}: ${hint}` : copied.error, copied.log);
  },
};

/** From here the node finishes or rolls back even on Ctrl+C: the run's stop is not passed on. */
export const activateStage: Stage = {
  name: 'activate',
  prepares: false,
  pool: 'activate',
  startsWork: true,
  applies: (ctx) => ctx.policy.traits.activates && ctx.plan.activate,
  async run(ctx) {
    const { ledger, policy, node } = ctx;
    // The agent checks the lock itself (--break-lock or an expiry may have handed the node to another run): `locked`.
    const confirmTimeoutMs = confirmWindowMs(policy, node);
    const { confirms } = ctx.run;
    await confirms.yieldTo();
    // Magic rollback: started only when its confirmation can be made within the window (else nothing is changed).
    const admitted = confirmTimeoutMs !== undefined && (policy.goal === 'switch' || policy.goal === 'test') ? await confirms.admit(confirmTimeoutMs) : undefined;
    if (admitted?.overloaded) {
      return done('failed', admitted.overloaded, undefined, OVERLOADED);
    }
    // Stopped while it waited for room (a failure with fail-fast, Ctrl+C): it never starts.
    if (ctx.run.stop.signal.aborted) {
      if (admitted) confirms.release();
      return done('skipped', stopReason(ctx.run));
    }
    ledger.activating.add(node.name);
    try {
      const r = await activateNode({
        ...agentInput(ctx), outPath: ctx.plan.outPath, confirms,
        ...(confirmTimeoutMs !== undefined ? { confirmTimeoutMs } : {}),
        ...(ctx.plan.to.generation !== undefined ? { generation: ctx.plan.to.generation } : {}),
      });
      if (r.outcome !== 'activated') return done(r.outcome, r.error, r.log, r.cause);
      ctx.activation = r;
      // Before the health checks: every system fleet leaves on a node is named by a record, even one whose
      // rollback then fails; a failed check's rollback gets its own record. A fleet rollback is recorded once
      // its node is healthy (recordStage): it never stands half-done.
      if (policy.recordKind !== 'rollback') await record(ctx, 'deploy', r, finalCall(ctx, 'activate'));
      return next;
    } catch (error) {
      // Its master could not be opened: the first call never reached the node (the scheduler reports it).
      if (error instanceof SshConnectError) throw error;
      // An unexpected error mid-activation: fleet cannot say what the node runs now.
      return done('rollback-failed', `unexpected error: ${error instanceof Error ? error.message : String(error)}; its state is unknown`);
    } finally {
      ledger.activating.delete(node.name);
      if (admitted) confirms.release();
    }
  },
};

/** The node's agent client: its Target, this run's id (run dirs, units) and lock identity. */
function agentOf({ run, node }: Pick<NodeContext, 'run' | 'node'>): AgentClient {
  return createAgentClient(run.pool.targetOf(node), { id: run.id, lock: run.lockIdentity });
}

/** What every call to the node's agent needs: its client, how it detaches, --verbose output. */
function agentInput(ctx: NodeContext): AgentInput {
  const { run, policy, node } = ctx;
  return {
    agent: agentOf(ctx), goal: policy.goal, systemd: run.targets.get(node.name)?.systemd ?? false, onPhase: ctx.phase,
    ...(policy.verbose ? { onLine: (line: string) => run.emit({ type: 'log', node: node.name, line }) } : {}),
  };
}

/** After the activation (and its confirmation): every check must pass, else the agent puts the node back. Runs
 *  even after Ctrl+C: the node is activated, and only the checks can say whether it may stay so. */
export const healthStage: Stage = {
  name: 'health',
  prepares: false,
  startsWork: false,
  // After a reboot the checks run whatever the goal: the node runs the new system now (boot included).
  applies: (ctx) => (ctx.rebooted !== undefined || (ctx.policy.traits.changesRunning && ctx.plan.activate)) && ctx.node.healthChecks.length > 0 && !ctx.policy.rollout.skipHealthChecks,
  async run(ctx) {
    const { run, node } = ctx;
    const checks = node.healthChecks;
    ctx.phase('health', `${checks.length === 1 ? 'check' : `${checks.length} checks`}: ${checks.map((c) => c.name).join(', ')}`);
    const health = await runHealthChecks({ target: run.pool.targetOf(node), checks, address: node.host, emit: run.emit });
    if (health.ok) return next;
    const failed = health.failed!;
    const r = await rollbackStarted(ctx, `health check \`${failed.check}\` failed: ${failed.detail}`);
    return done(r.outcome, r.error, r.log);
  },
};

/** Puts a node this run activated back on what its agent recorded (a failed check, a failed wave). */
export async function rollbackStarted(ctx: NodeContext, why: string): Promise<ActivationResult> {
  // After a reboot the agent's run dir is gone: the way back is the previous generation, and a reboot into it.
  const r = ctx.rebooted ? await undoAfterReboot(ctx, why) : await rollbackActivated(agentInput(ctx), why);
  if (r.outcome === 'rolled-back' && ctx.ledger.recorded.has(ctx.node.name)) await record(ctx, 'rollback', r);
  return r;
}

/** Whether the node's call after `stage` is its last of the run, so it may release the lock: no later stage
 *  applies, and no wave of a staged rollout can still roll it back. */
function finalCall(ctx: NodeContext, stage: Stage['name']): boolean {
  if (ctx.policy.staged) return false;
  return !STAGES.slice(STAGES.findIndex((s) => s.name === stage) + 1).some((s) => s.applies(ctx));
}

/** A record on the target of what this run left there (dry-activate changes nothing: no record); with
 *  `release`, the same round trip releases the node's lock (its last call of the run). */
async function record(ctx: NodeContext, kind: RecordKind, r: ActivationResult, release = false): Promise<void> {
  const { run, policy, ledger, node } = ctx;
  const toplevel = run.records && r.now && (policy.traits.setsProfile || policy.traits.changesRunning)
    ? (kind === 'deploy' ? ctx.plan.outPath : systemOf(policy.goal, r.now))
    : undefined;
  const input = toplevel && r.now
    ? { kind, goal: policy.goal, profile: node.profile, toplevel, now: r.now, ...(r.before ? { before: r.before } : {}), time: new Date() }
    : undefined;
  const finished = await finishNode(agentOf(ctx), input ? await run.records : undefined, input, release);
  if (finished.warning) ledger.warnings.push(finished.warning);
  else if (input && kind === 'deploy') ledger.recorded.add(node.name);
  // Released (or found another run's): the end of the run has nothing left to release there.
  if (finished.lock && finished.lock.state !== 'error') run.locks.released(node);
}

/** `fleet rollback`: the record of going back, written after the health checks passed. */
export const recordStage: Stage = {
  name: 'record',
  prepares: false,
  startsWork: false,
  applies: (ctx) => ctx.policy.recordKind === 'rollback' && ctx.policy.traits.activates && ctx.plan.activate,
  async run(ctx) {
    if (ctx.activation) await record(ctx, 'rollback', ctx.activation, finalCall(ctx, 'record'));
    return next;
  },
};

// The reboot right after the activation: post-activation keys then land in the new boot (a reboot empties /run/keys).
export const STAGES: readonly Stage[] = [buildStage, copyStage, keysStage('pre-activation'), activateStage, rebootStage, keysStage('post-activation', rollbackStarted), healthStage, recordStage];

/** What a node that went through every stage without a final word ends as. */
export function completedOutcome(goal: Goal, plan: NodePlan, rebooted = false): Outcome {
  if (goal === 'build') return 'built';
  if (goal === 'push') return plan.copy.kind === 'none' ? 'unchanged' : 'pushed';
  return plan.activate ? 'activated' : rebooted ? 'rebooted' : 'unchanged';
}
