// `fleet rollback`'s systems: read from each target (its deploy records and its profile's generations, one
// read-only round trip each), not evaluated. The rest is apply's pipeline: lock, agent, magic rollback,
// waves, health checks.
import pLimit from 'p-limit';
import { generationsArgv, parseGenerations } from '../agent/agent.js';
import type { ResolvedNode } from '../config/types.js';
import type { SystemSource } from '../deploy/apply.js';
import { NodeError } from '../errors.js';
import type { NodeEval } from '../nix/eval.js';
import { takeoverText } from '../plan/lock-text.js';
import type { PrepareOptions } from '../plan/prepare.js';
import { readTargetState } from '../plan/probe.js';
import type { Host } from '../transport/host.js';
import { failureReason } from '../transport/run.js';
import { runOnNode } from '../agent/run.js';
import { chooseRollback, type RollbackChoice } from './choose.js';

export function rollbackSource(choice: RollbackChoice): SystemSource {
  return {
    command: 'rollback',
    buildsEarly: false,
    recordKind: 'rollback',
    async resolve(_fleet, nodes, options) {
      const evals: Record<string, NodeEval> = {};
      const failures: NodeError[] = [];
      const limit = pLimit(64);
      await Promise.all(nodes.map((node) => limit(async () => {
        try {
          const target = await readChoice(node, options.pool.forNode(node), choice, options);
          if (target.ok) {
            // Nothing is built: the "derivation" is the system itself, which the target holds already.
            evals[node.name] = { drvPath: target.system, outPath: target.system, generation: target.generation };
            options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: `back to generation ${target.generation}: ${target.why}` });
          } else {
            failures.push(new NodeError(node.name, 'query', `refused: ${target.refusal}`));
          }
        } catch (error) {
          failures.push(error instanceof NodeError ? error : new NodeError(node.name, 'connect', (error as Error).message, { cause: error }));
        }
      })));
      return { selected: nodes, nodes: nodes.filter((n) => evals[n.name]), evals, failures };
    },
  };
}

async function readChoice(node: ResolvedNode, host: Host, choice: RollbackChoice, options: PrepareOptions) {
  const { signal } = options;
  await host.connect();
  // Under the run's lock already, so no other run's deploy lands between reading the records and acting on
  // them (the plan's probe then finds the lock this run's; a refused node's lock is released as a maybe-held).
  const state = await readTargetState(host, node, '/nonexistent', signal, options.lock, true);
  if (state.lock?.state === 'taken' && (state.lock.holder || state.lock.expired)) options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: takeoverText(state.lock) });
  const r = await runOnNode(host, node, generationsArgv(node.profile), signal ? { signal } : {});
  if (r.failed) throw new NodeError(node.name, 'query', `cannot list the profile's generations: ${failureReason(r)}`, { log: r.stderr });
  return chooseRollback(state.records?.records ?? [], node.profile, parseGenerations(r.stdout), choice);
}
