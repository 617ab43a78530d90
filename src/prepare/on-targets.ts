// Systems read from the targets instead of evaluated (fleet rollback, fleet reboot): every node asked once, under the
// run's probe slots and in the round trip that takes its lock; each answer is the node's system and state, or why not.
import type { TargetState } from '../agent/state.js';
import type { ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import type { NodeEval } from '../nix/eval.js';
import { takeoverText } from '../lock/text.js';
import { probeSlots } from '../transport/pool.js';
import type { Target } from '../transport/target.js';
import type { PrepareOptions } from './prepare.js';

/** What one node said: the system it goes to (already in its store) and its state, or a refusal naming why. */
export type TargetAnswer = { system: NodeEval; state: TargetState; detail: string } | { refused: string };

/** `ask` reads one node over its master (`overMaster`) or a connection of its own; a throw is the node's failure. */
export async function resolveOnTargets(
  nodes: readonly ResolvedNode[],
  options: PrepareOptions,
  ask: (target: Target, overMaster: boolean) => Promise<TargetAnswer>,
): Promise<Evaluated> {
  const evals: Record<string, NodeEval> = {};
  const states: Record<string, TargetState> = {};
  const failures: NodeError[] = [];
  const { pool } = options;
  const limit = probeSlots(pool);
  const overMaster = pool.keepsMasters(nodes.length); // as probeTargets: a master only when kept
  await Promise.all(nodes.map((node) => limit(async () => {
    try {
      const target = pool.targetOf(node);
      if (overMaster) await target.host.connect();
      const answer = await ask(target, overMaster);
      if ('refused' in answer) {
        failures.push(new NodeError(node.name, 'query', answer.refused));
        return;
      }
      evals[node.name] = answer.system;
      states[node.name] = answer.state;
      options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: answer.detail });
    } catch (error) {
      failures.push(error instanceof NodeError ? error : new NodeError(node.name, 'connect', (error as Error).message, { cause: error }));
    }
  })));
  return { selected: nodes, nodes: nodes.filter((n) => evals[n.name]), evals, failures, states };
}

/** The plan's view of a node read this way: its system is in its store, and the lock is this run's own (a takeover is
 *  reported here, once). */
export function asOwnState(node: ResolvedNode, state: TargetState, options: Pick<PrepareOptions, 'emit'>): TargetState {
  const lock = state.lock;
  if (lock?.state === 'taken' && (lock.holder || lock.expired)) options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: takeoverText(lock) });
  return { ...state, hasOut: true, ...(lock?.state === 'taken' ? { lock: { state: 'taken' as const } } : {}) };
}
