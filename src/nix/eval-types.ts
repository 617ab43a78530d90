// What evaluation gives per node, shared by the evaluator's parts and its callers.
import type { NodeError } from '../errors.js';

export interface NodeEval {
  drvPath: string;
  outPath: string;
  system?: string;
  /** fleet rollback: the existing profile generation to go back to (the system is not evaluated then). */
  generation?: number;
}

export interface EvalOutcome {
  results: Record<string, NodeEval>;
  errors: NodeError[];
}
