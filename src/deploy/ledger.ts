// What a deploy run has come to, node by node: each node's final word (as a node-done event), the nodes
// mid-activation, the records written, the warnings for the end. A failure stops the run here when fail-fast.
import { FAILED_OUTCOMES, type EmitEvent, type NodeCause, type Outcome } from '../events.js';

export interface NodeResult {
  outcome: Outcome;
  error?: string;
  cause?: NodeCause;
}

export interface Ledger {
  readonly results: ReadonlyMap<string, NodeResult>;
  /** Nodes mid-activation: a forced quit cannot promise their state. */
  readonly activating: Set<string>;
  /** Nodes whose deploy record this run wrote: an undoing of theirs is recorded too. */
  readonly recorded: Set<string>;
  /** For stderr at the end (records that could not be written). */
  readonly warnings: string[];
  /** A node's final word; the first one counts. A failure stops the run when fail-fast (`locked` never does). */
  finish(node: string, outcome: Outcome, error?: string, log?: string[], cause?: NodeCause): void;
  /** A later, final word on a node that already had one: an earlier wave rolled back by `rollback-all`. */
  revise(node: string, outcome: Outcome, error?: string, log?: string[]): void;
}

export interface LedgerInput {
  emit: EmitEvent;
  /** What a failure aborts when `failFast`. */
  stop: AbortController;
  failFast: boolean;
}

export function createLedger({ emit, stop, failFast }: LedgerInput): Ledger {
  const results = new Map<string, NodeResult>();
  const word = (node: string, outcome: Outcome, error?: string, log?: string[], cause?: NodeCause) => {
    results.set(node, { outcome, ...(error ? { error } : {}), ...(cause ? { cause } : {}) });
    emit({ type: 'node-done', node, outcome, ...(error ? { error } : {}), ...(log?.length ? { log } : {}), ...(cause ? { cause } : {}) });
  };
  return {
    results, activating: new Set(), recorded: new Set(), warnings: [],
    finish(node, outcome, error, log, cause) {
      if (results.has(node)) return;
      word(node, outcome, error, log, cause);
      // A node another run holds is no failure of this run's work: fail-fast goes on with the others.
      if (failFast && FAILED_OUTCOMES.includes(outcome) && outcome !== 'locked') stop.abort();
    },
    revise: word,
  };
}
