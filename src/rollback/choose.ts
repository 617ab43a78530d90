// `fleet rollback`: which generation a node goes back to, decided from its own deploy records and its
// profile's generations only. Never a guess such as "the previous newest generation" (deploy-rs #86).
import type { DeployRecord } from '../records/record.js';

export type RollbackChoice = { kind: 'last' } | { kind: 'generation'; generation: number } | { kind: 'run'; run: string };

export type RollbackTarget = { ok: true; generation: number; system: string; why: string } | { ok: false; refusal: string };

/** The deploys still standing, oldest first: every rollback record (fleet rollback, a failed health check
 *  or wave) undid the latest deploy standing before it. */
export function standingDeploys(records: readonly DeployRecord[]): DeployRecord[] {
  const stack: DeployRecord[] = [];
  for (const r of records) {
    if (r.kind === 'deploy') stack.push(r);
    else stack.pop();
  }
  return stack;
}

/** generations: the profile's generation number → the system it holds (read from the target). */
export function chooseRollback(records: readonly DeployRecord[], profile: string, generations: ReadonlyMap<number, string>, choice: RollbackChoice): RollbackTarget {
  const mine = records.filter((r) => r.profile === profile);
  const exists = (generation: number, why: string, system?: string): RollbackTarget => {
    const held = generations.get(generation);
    if (!held) return { ok: false, refusal: `generation ${generation} of ${profile} no longer exists on the node (garbage-collected?)` };
    if (system && held !== system) return { ok: false, refusal: `generation ${generation} of ${profile} now holds ${held}, not ${system} as recorded` };
    return { ok: true, generation, system: held, why };
  };
  switch (choice.kind) {
    case 'generation':
      return exists(choice.generation, `generation ${choice.generation} (--to)`);
    case 'run': {
      const deploy = [...mine].reverse().find((r) => r.run === choice.run && r.kind === 'deploy');
      if (!deploy) return { ok: false, refusal: `no record of a fleet deploy of run ${choice.run} on this node` };
      if (deploy.generation === undefined) return { ok: false, refusal: `run ${choice.run} left no profile generation on this node (goal ${deploy.goal})` };
      return exists(deploy.generation, `what run ${choice.run} deployed`, deploy.toplevel);
    }
    case 'last': {
      if (mine.length === 0) return { ok: false, refusal: 'no fleet deploy is recorded on this node: nothing to go back to (use --to GEN to name a generation)' };
      const last = standingDeploys(mine).at(-1);
      if (!last) return { ok: false, refusal: 'every recorded fleet deploy of this node was rolled back already (use --to GEN to name a generation)' };
      const before = last.before;
      if (before?.generation === undefined || !before.profileTarget) {
        return { ok: false, refusal: `before fleet's deploy of run ${last.run} the node had no profile generation to go back to` };
      }
      return exists(before.generation, `the generation it ran before run ${last.run}`, before.profileTarget);
    }
  }
}
