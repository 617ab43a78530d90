// `fleet rollback`'s systems: read from each target (its deploy records and its profile's generations, one
// read-only round trip each), not evaluated. The rest is apply's pipeline: lock, agent, magic rollback,
// waves, health checks.
import pLimit from 'p-limit';
import { generationsArgv, parseGenerations } from '../agent/agent.js';
import type { ResolvedNode } from '../config/types.js';
import type { SystemSource } from '../deploy/apply.js';
import { NodeError } from '../errors.js';
import type { NodeEval } from '../nix/eval.js';
import { readTargetState } from '../plan/probe.js';
import type { Host } from '../transport/host.js';
import { failureReason } from '../transport/run.js';
import { chooseRollback, type RollbackChoice } from './choose.js';

export function rollbackSource(choice: RollbackChoice): SystemSource {
  return {
    command: 'rollback',
    buildsEarly: false,
    async resolve(_fleet, nodes, options) {
      const evals: Record<string, NodeEval> = {};
      const failures: NodeError[] = [];
      const limit = pLimit(64);
      await Promise.all(nodes.map((node) => limit(async () => {
        try {
          const target = await readChoice(node, options.pool.forNode(node), choice, options.signal);
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

async function readChoice(node: ResolvedNode, host: Host, choice: RollbackChoice, signal?: AbortSignal) {
  await host.connect();
  const state = await readTargetState(host, node, '/nonexistent', signal, undefined, true);
  const r = await host.run(generationsArgv(node.profile), { timeoutMs: node.connectTimeoutMs + 30_000, ...(signal ? { signal } : {}) });
  if (r.failed) throw new NodeError(node.name, 'query', `cannot list the profile's generations: ${failureReason(r)}`, { log: r.stderr });
  return chooseRollback(state.records?.records ?? [], node.profile, parseGenerations(r.stdout), choice);
}
