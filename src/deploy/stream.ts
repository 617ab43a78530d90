// Streaming evaluation into apply: each evaluated chunk's builds start at once and its targets are asked while later
// chunks evaluate; which runs then deploy each chunk as it comes, what the chunks add up to, and which builds are
// still wanted while some chunks are not planned yet.
import type { TargetState } from '../agent/state.js';
import { earlyBuilds, type Builds } from '../build/builds.js';
import type { ResolvedFleet } from '../config/types.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import type { BuildJob, Plan } from '../plan/types.js';
import { planProbed, probeEvaluated, type Prepared, type PrepareOptions } from '../prepare/prepare.js';
import type { DeployPolicy } from './policy.js';

/** What the probe said of one evaluated part (its failures: the evaluation's and the probe's). */
export type Probed = Omit<Prepared, 'plan'>;

/**
 * Whether a node goes on to its copy and activation as soon as its chunk is evaluated, asked and built. Only when
 * nothing needs the whole plan first: not fail-fast (its promise: an evaluation error stops the run before any
 * target is touched, so copies wait until every node evaluated cleanly), not a staged rollout (the waves are the
 * whole selection's, and no wave activates before every build is done), not a review (`-i`: the whole plan is
 * approved or declined). Builds start per chunk in every case: they change no target.
 */
export function streamsDeploy(policy: Pick<DeployPolicy, 'failFast' | 'staged' | 'review'>): boolean {
  return !policy.failFast && !policy.staged && !policy.review;
}

/** The parts as one evaluation, its nodes in fleet-file order (every part holds the whole selection as `selected`). */
export function mergeParts(selected: Evaluated['selected'], parts: readonly { evaluated: Evaluated; probed: Probed }[]): { evaluated: Evaluated; probed: Probed } {
  const evals = Object.assign({}, ...parts.map((p) => p.evaluated.evals)) as Evaluated['evals'];
  const ok = new Set(parts.flatMap((p) => p.evaluated.nodes.map((n) => n.name)));
  const states = Object.assign({}, ...parts.map((p) => p.evaluated.states ?? {})) as Record<string, TargetState>;
  return {
    evaluated: { selected, nodes: selected.filter((n) => ok.has(n.name)), evals, failures: parts.flatMap((p) => p.evaluated.failures), ...(Object.keys(states).length ? { states } : {}) },
    probed: { states: Object.assign({}, ...parts.map((p) => p.probed.states)) as Probed['states'], failures: parts.flatMap((p) => p.probed.failures) },
  };
}

/** The builds still wanted: what the planned parts need, and everything the parts not planned yet may need. */
export function wantedBuilds(planned: readonly BuildJob[], unplanned: Iterable<Pick<Evaluated, 'nodes' | 'evals'>>): BuildJob[] {
  return [...planned, ...[...unplanned].flatMap((part) => earlyBuilds(part))];
}

export interface PartsInput {
  fleet: ResolvedFleet;
  /** The evaluation, part by part (one part: a source that is not streamed). */
  evaluation: AsyncIterable<Evaluated> | Iterable<Evaluated>;
  builds: Builds;
  /** Whether a part's systems are built before its targets are asked (not fleet rollback's: they are on the targets). */
  buildsEarly: boolean;
  prepare: PrepareOptions;
  /** Aborted on an unexpected error: nothing new starts. */
  stop: AbortController;
  /** The evaluation's failures as soon as known, then the probe's answers and failures (may be called twice for a node). */
  register(probed: Probed): void;
  /** A streamed deploy: a part's plan (its nodes) as soon as it exists; the nodes' deploy is awaited before returning. */
  onPlan?(part: Plan): Promise<void>;
}

/** Takes every part of the evaluation: starts its builds, asks its targets (each part as it comes, while later parts
 *  evaluate), trims the builds to what is known to be wanted; returns the parts once all are asked. */
export async function takeParts(input: PartsInput): Promise<{ evaluated: Evaluated; probed: Probed }[]> {
  const { builds, prepare } = input;
  const parts: { evaluated: Evaluated; probed: Probed }[] = [];
  const unplanned = new Set<Evaluated>();
  const planned: BuildJob[] = [];
  const deploying: Promise<void>[] = [];
  const asking: Promise<void>[] = [];
  // Every part is asked as soon as it is evaluated, side by side with the earlier parts' questions (the pool's probe
  // slots bound them all together): one after the other, the plan of a fleet in k chunks waited k round trips.
  const ask = (work: () => Promise<void>) => {
    const asked = work();
    asked.catch(() => {}); // awaited below, after the last part
    asking.push(asked);
  };
  try {
    for await (const evaluated of input.evaluation) {
      if (input.buildsEarly) builds.add(evaluated);
      // Known before the targets are asked: a fail-fast run stops its builds and probes now.
      input.register({ states: {}, failures: evaluated.failures });
      unplanned.add(evaluated);
      ask(async () => {
        const probed = await probeEvaluated(evaluated, prepare);
        unplanned.delete(evaluated);
        parts.push({ evaluated, probed });
        input.register(probed);
        const part = planProbed(input.fleet, evaluated, probed, { goal: prepare.goal, force: prepare.force });
        planned.push(...part.builds);
        builds.keepOnly({ builds: wantedBuilds(planned, unplanned) });
        if (input.onPlan && part.nodes.length > 0) deploying.push(input.onPlan(part));
      });
    }
    await Promise.all(asking);
  } catch (error) {
    // A bug in evaluating or asking: nothing new starts, and the nodes already under way end before the error.
    input.stop.abort();
    await Promise.allSettled(asking);
    await Promise.allSettled(deploying);
    throw error;
  }
  await Promise.all(deploying);
  return parts;
}
