// Evaluation of the selected nodes: in chunks, by parallel nix-instantiate processes within a memory budget
// (eval-run.ts). Two ways to take the results: all at once (evaluateNodes), or chunk by chunk as each ends
// (evaluateStream), so that a node's build can start while other chunks still evaluate.
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { runEvaluation, type EvaluatorOptions, type EvaluationRun } from './eval-run.js';
import type { EvalOutcome } from './eval-types.js';

export type { EvalOutcome, NodeEval } from './eval-types.js';
export { attrPathOf, buildEvalArgv } from './eval-chunk.js';
export type { ChunkReport, EvalSummary, EvaluatorOptions, EvaluationRun } from './eval-run.js';

export type EvalOptions = Omit<EvaluatorOptions, 'onResult'>;

/** Every node's result or error (named for its node, with Nix's message), once all chunks have ended. */
export async function evaluateNodes(fleet: Pick<ResolvedFleet, 'nix'>, nodes: readonly ResolvedNode[], options: EvalOptions = {}): Promise<EvaluationRun> {
  return runEvaluation(fleet, nodes, options);
}

/**
 * The same evaluation, one part per ended chunk (its nodes' results and errors; every node is in exactly one
 * part), while the other chunks go on. Leaving the loop early does not stop the evaluation: abort `signal` for that.
 */
export async function* evaluateStream(fleet: Pick<ResolvedFleet, 'nix'>, nodes: readonly ResolvedNode[], options: EvalOptions = {}): AsyncGenerator<EvalOutcome, EvaluationRun> {
  const parts: EvalOutcome[] = [];
  let wake = () => {};
  let ended = false;
  const run = runEvaluation(fleet, nodes, {
    ...options,
    onResult: (part) => {
      parts.push(part);
      wake();
    },
  }).finally(() => {
    ended = true;
    wake();
  });
  run.catch(() => {}); // a consumer that left early still sees no unhandled rejection; one that stays gets it below
  for (;;) {
    const part = parts.shift();
    if (part) {
      yield part;
      continue;
    }
    if (ended) return await run;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}
