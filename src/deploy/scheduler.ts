// Runs every planned node through the stages: owns concurrency (--parallel) and what a stop means (no new
// work starts); the ledger fires it on a failure when fail-fast, a staged rollout leaves it to each wave's budget.
// A node's problem never fails the run.
import pLimit from 'p-limit';
import type { NodePlan, Plan } from '../plan/types.js';
import type { Builds } from '../build/builds.js';
import { completedOutcome, rollbackStarted, type DeployRun, type NodeContext, type Stage, type StageResult } from './stages.js';
import { stopReason } from './context.js';
import { rollWaves } from './rollout.js';
import { SshConnectError } from '../transport/ssh.js';

export type StagePools = Record<NonNullable<Stage['pool']>, ReturnType<typeof pLimit>>;

/** --parallel's pools: one per run, shared by every part a streamed apply schedules. */
export function stagePools(parallel: number): StagePools {
  return { copy: pLimit(parallel), activate: pLimit(parallel) };
}

export async function schedule(d: DeployRun, plan: Plan, builds: Builds, stages: readonly Stage[], pools = stagePools(d.policy.parallel)): Promise<void> {
  const { run, policy, ledger } = d;

  const runStage = (stage: Stage, ctx: NodeContext): Promise<StageResult> => {
    const go = async (): Promise<StageResult> => {
      if (stage.startsWork && run.stop.signal.aborted) return { kind: 'done', outcome: 'skipped', error: stopReason(run) };
      return stage.run(ctx);
    };
    // The node's master is held while a stage that reaches it runs (inside the pool's slot: never while waiting).
    const reach = stage.name === 'build' ? go : () => run.pool.use(ctx.node, go);
    return stage.pool ? pools[stage.pool](reach) : reach();
  };

  const contexts = new Map(plan.nodes.map((np): [string, NodeContext] => {
    const ctx: NodeContext = {
      run, policy, ledger, plan: np, node: run.nodes.get(np.name)!, builds,
      phase: (phase, detail) => run.emit({ type: 'node-phase', node: np.name, phase, detail }),
      undo: (why) => rollbackStarted(ctx, why),
    };
    return [np.name, ctx];
  }));

  /** The stages of one part (preparing or not) in order; a final word ends them. */
  const runPart = async (np: NodePlan, prepares: boolean): Promise<StageResult> => {
    const ctx = contexts.get(np.name)!;
    try {
      for (const stage of stages) {
        if (stage.prepares !== prepares || !stage.applies(ctx)) continue;
        const r = await runStage(stage, ctx);
        if (r.kind === 'done') return r;
      }
      return { kind: 'next' };
    } catch (error) {
      // A master opened for this stage (a large fleet's probe went directly): Ctrl+C while connecting is a node
      // never started; a failed connect is the node's failure in ssh's words.
      if (error instanceof SshConnectError) return error.reason === 'canceled' ? { kind: 'done', outcome: 'skipped', error: stopReason(run) } : { kind: 'done', outcome: 'failed', error: error.message };
      // A bug or an unexpected error fails its node, never the run (activation handles its own: see stages).
      return { kind: 'done', outcome: 'failed', error: `unexpected error: ${error instanceof Error ? error.message : String(error)}` };
    }
  };
  const settle = (np: NodePlan, r: StageResult) => (r.kind === 'done' ? ledger.finish(np.name, r.outcome, r.error, r.log, r.cause) : ledger.finish(np.name, completedOutcome(policy.goal, np, !!contexts.get(np.name)!.rebooted)));

  if (policy.staged && plan.waves) {
    // Copies change nothing that runs: every node's go on at once while the waves activate.
    const waves = plan.waves;
    const waveOf = (name: string) => waves.findIndex((w) => w.nodes.includes(name)) + 1;
    const prepared = new Map(plan.nodes.map((np) => [np.name, runPart(np, true).then((r) => {
      // Said once the copy is done: a later wave's node would otherwise read "copying" until its wave starts.
      if (r.kind === 'next') contexts.get(np.name)!.phase('ready', `built and copied; waits for wave ${waveOf(np.name)}`);
      return r;
    })]));
    await rollWaves(d, plan.waves, {
      contextOf: (name) => contexts.get(name),
      async deploy(np) {
        const r = await prepared.get(np.name)!;
        return r.kind === 'done' ? r : runPart(np, false);
      },
      everyBuild: () => builds.settled(),
      prepared: (name) => prepared.get(name),
    });
    await Promise.all(prepared.values()); // held nodes' copies, cut short by the stop
    return;
  }
  await Promise.all(plan.nodes.map(async (np) => {
    const r = await runPart(np, true);
    settle(np, r.kind === 'done' ? r : await runPart(np, false));
    run.pool.done(contexts.get(np.name)!.node); // nothing more for it in this run: its master goes now
  }));
}
