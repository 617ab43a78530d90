// `fleet reboot`'s systems: nothing is evaluated or built; each node must come back on its boot default (the system
// its profile holds), read from the node in the one round trip that takes its lock. The rest is apply's pipeline:
// lock, waves, the reboot step, health checks. Structurally deploy's SystemSource (deploy imports this floor).
import pLimit from 'p-limit';
import type { TargetState } from '../agent/state.js';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import { takeoverText } from '../lock/text.js';
import type { NodeEval } from '../nix/eval.js';
import type { PrepareOptions } from '../prepare/prepare.js';
import { readTargetState } from '../probe/probe.js';

export const rebootSource = {
  command: 'reboot' as const,
  buildsEarly: false,
  recordKind: 'deploy' as const,
  async resolve(_fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: PrepareOptions): Promise<Evaluated> {
    const evals: Record<string, NodeEval> = {};
    const states: Record<string, TargetState> = {};
    const failures: NodeError[] = [];
    const limit = pLimit(options.pool.limits.probes);
    const overMasters = options.pool.keepsMasters(nodes.length); // as probeTargets: a master only when kept
    await Promise.all(nodes.map((node) => limit(async () => {
      const target = options.pool.targetOf(node);
      try {
        if (overMasters) await target.host.connect();
        const state = await readTargetState(target, '/nonexistent', options.signal, options.lock, false, !overMasters);
        const system = state.profileTarget;
        if (!system) {
          failures.push(new NodeError(node.name, 'query', `not rebooted: ${node.profile} names no system, so it is unknown what the node would boot`));
          return;
        }
        const lock = state.lock;
        if (lock?.state === 'taken' && (lock.holder || lock.expired)) options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: takeoverText(lock) });
        // Nothing is built or copied: the "derivation" is the boot default itself, already in the node's store.
        evals[node.name] = { drvPath: system, outPath: system };
        states[node.name] = { ...state, hasOut: true, ...(lock?.state === 'taken' ? { lock: { state: 'taken' as const } } : {}) };
        options.emit({ type: 'node-phase', node: node.name, phase: 'query', detail: `boots ${system} (${state.profileLink ?? node.profile})` });
      } catch (error) {
        failures.push(error instanceof NodeError ? error : new NodeError(node.name, 'connect', (error as Error).message, { cause: error }));
      }
    })));
    return { selected: nodes, nodes: nodes.filter((n) => evals[n.name]), evals, failures, states };
  },
};
