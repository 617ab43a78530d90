// `fleet rollback`'s systems: read from each target (its deploy records and its profile's generations, in the
// one round trip that takes its lock), not evaluated. The rest is apply's pipeline: lock, agent, magic rollback,
// waves, health checks.
import pLimit from 'p-limit';
import type { SystemSource } from '../deploy/apply.js';
import { NodeError } from '../errors.js';
import type { NodeEval } from '../nix/eval.js';
import { takeoverText } from '../lock/text.js';
import type { PrepareOptions } from '../prepare/prepare.js';
import { readTargetState } from '../probe/probe.js';
import type { TargetState } from '../agent/state.js';
import type { Target } from '../transport/target.js';
import { chooseRollback, type RollbackChoice } from './choose.js';

export function rollbackSource(choice: RollbackChoice): SystemSource {
  return {
    command: 'rollback',
    buildsEarly: false,
    async resolve(_fleet, nodes, options) {
      const evals: Record<string, NodeEval> = {};
      const states: Record<string, TargetState> = {};
      const failures: NodeError[] = [];
      const limit = pLimit(options.pool.limits.probes);
      const overMasters = options.pool.keepsMasters(nodes.length); // as probeTargets: a master only when kept
      await Promise.all(nodes.map((node) => limit(async () => {
        try {
          const { target, state } = await readChoice(options.pool.targetOf(node), choice, options, overMasters);
          if (target.ok) {
            // Nothing is built: the "derivation" is the system itself, which the target holds already.
            evals[node.name] = { drvPath: target.system, outPath: target.system, generation: target.generation };
            states[node.name] = state;
            options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: `back to generation ${target.generation}: ${target.why}` });
          } else {
            failures.push(new NodeError(node.name, 'query', `refused: ${target.refusal}`));
          }
        } catch (error) {
          failures.push(error instanceof NodeError ? error : new NodeError(node.name, 'connect', (error as Error).message, { cause: error }));
        }
      })));
      return { selected: nodes, nodes: nodes.filter((n) => evals[n.name]), evals, failures, states };
    },
  };
}

async function readChoice(on: Target, choice: RollbackChoice, options: PrepareOptions, overMaster: boolean) {
  const { node } = on;
  if (overMaster) await on.host.connect();
  // Under the run's lock already, so no other run's deploy lands between reading the records and acting on
  // them (a refused node's lock is released as a maybe-held).
  const { records, generations, bootChanged: _bootChanged, ...state } = await readTargetState(on, '/nonexistent', options.signal, options.lock, 'generations', !overMaster);
  const lock = state.lock;
  if (lock?.state === 'taken' && (lock.holder || lock.expired)) options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: takeoverText(lock) });
  return {
    target: chooseRollback(records?.records ?? [], node.profile, generations ?? new Map(), choice),
    // The plan's view of the target: the chosen generation is in its store (a GC root), and the lock is this
    // run's own (its takeover is reported above, once).
    state: { ...state, hasOut: true, ...(lock?.state === 'taken' ? { lock: { state: 'taken' as const } } : {}) },
  };
}
