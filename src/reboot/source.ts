// `fleet reboot`'s systems: nothing is evaluated or built; each node must come back on its boot default (the system
// its profile holds), read from the node in the one round trip that takes its lock. The rest is apply's pipeline:
// lock, waves, the reboot step, health checks. Structurally deploy's SystemSource (deploy imports this floor).
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import { asOwnState, resolveOnTargets } from '../prepare/on-targets.js';
import type { PrepareOptions } from '../prepare/prepare.js';
import { readTargetState } from '../probe/probe.js';

export const rebootSource = {
  command: 'reboot' as const,
  buildsEarly: false,
  recordKind: 'deploy' as const,
  async resolve(_fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: PrepareOptions): Promise<Evaluated> {
    return resolveOnTargets(nodes, options, async (target, overMaster) => {
      const { node } = target;
      const state = await readTargetState(target, '/nonexistent', options.signal, options.lock, false, !overMaster);
      const system = state.profileTarget;
      if (!system) return { refused: `not rebooted: ${node.profile} names no system, so it is unknown what the node would boot` };
      // Nothing is built or copied: the "derivation" is the boot default itself, already in the node's store.
      return { system: { drvPath: system, outPath: system }, state: asOwnState(node, state, options), detail: `boots ${system} (${state.profileLink ?? node.profile})` };
    });
  },
};
