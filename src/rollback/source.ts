// `fleet rollback`'s systems: read from each target (its deploy records and its profile's generations, in the
// one round trip that takes its lock), not evaluated. The rest is apply's pipeline: lock, agent, magic rollback,
// waves, health checks.
import type { SystemSource } from '../deploy/apply.js';
import { asOwnState, resolveOnTargets } from '../prepare/on-targets.js';
import type { PrepareOptions } from '../prepare/prepare.js';
import { readTargetState } from '../probe/probe.js';
import type { Target } from '../transport/target.js';
import { chooseRollback, type RollbackChoice } from './choose.js';

export function rollbackSource(choice: RollbackChoice): SystemSource {
  return {
    command: 'rollback',
    buildsEarly: false,
    async resolve(_fleet, nodes, options) {
      return resolveOnTargets(nodes, options, async (target, overMaster) => {
        const chosen = await readChoice(target, choice, options, overMaster);
        if (!chosen.target.ok) return { refused: `refused: ${chosen.target.refusal}` };
        const { generation, system, why } = chosen.target;
        // Nothing is built: the "derivation" is the system itself, which the target holds already.
        return { system: { drvPath: system, outPath: system, generation }, state: chosen.state, detail: `back to generation ${generation}: ${why}` };
      });
    },
  };
}

async function readChoice(on: Target, choice: RollbackChoice, options: PrepareOptions, overMaster: boolean) {
  const { node } = on;
  // Under the run's lock already, so no other run's deploy lands between reading the records and acting on
  // them (a refused node's lock is released as a maybe-held).
  const { records, generations, bootChanged: _bootChanged, ...state } = await readTargetState(on, '/nonexistent', options.signal, options.lock, 'generations', !overMaster);
  return { target: chooseRollback(records?.records ?? [], node.profile, generations ?? new Map(), choice), state: asOwnState(node, state, options) };
}
