// Runs every planned node through the stages: owns concurrency (--parallel) and the failure policy
// (fail-fast stops new work; --keep-going does not). A node's problem never fails the run.
import pLimit from 'p-limit';
import type { NodePlan, Plan } from '../plan/types.js';
import type { Builds } from './builds.js';
import { completedOutcome, type NodeContext, type Stage, type StageResult } from './stages.js';
import { finishNode, stopReason, type RunState } from './state.js';

export async function schedule(run: RunState, plan: Plan, builds: Builds, stages: readonly Stage[]): Promise<void> {
  const pools = { copy: pLimit(run.options.parallel), activate: pLimit(run.options.parallel) };

  const runStage = (stage: Stage, ctx: NodeContext): Promise<StageResult> => {
    const go = async (): Promise<StageResult> => {
      if (stage.startsWork && run.stop.signal.aborted) return { kind: 'done', outcome: 'skipped', error: stopReason(run) };
      return stage.run(ctx);
    };
    return stage.pool ? pools[stage.pool](go) : go();
  };

  const runNode = async (np: NodePlan): Promise<void> => {
    const ctx: NodeContext = {
      run, plan: np, node: run.nodes.get(np.name)!, builds,
      phase: (phase, detail) => run.emit({ type: 'node-phase', node: np.name, phase, detail }),
    };
    for (const stage of stages) {
      if (!stage.applies(ctx)) continue;
      const r = await runStage(stage, ctx);
      if (r.kind === 'done') return finishNode(run, np.name, r.outcome, r.error, r.log);
    }
    finishNode(run, np.name, completedOutcome(run, np));
  };

  await Promise.all(plan.nodes.map(async (np) => {
    try {
      await runNode(np);
    } catch (error) {
      // A bug or an unexpected error fails its node, never the run (activation handles its own: see stages).
      finishNode(run, np.name, 'failed', `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    }
  }));
}
