// Streaming evaluation into apply (pure parts): which runs deploy each evaluated chunk as it comes, what the
// chunks add up to, and which builds are still wanted while some chunks are not planned yet.
import type { TargetState } from '../agent/state.js';
import { earlyBuilds } from '../build/builds.js';
import type { NodeError } from '../errors.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import type { BuildJob } from '../plan/types.js';
import type { DeployPolicy } from './policy.js';

/** What the probe said of one evaluated part. */
export interface Probed {
  states: Record<string, TargetState>;
  failures: NodeError[];
}

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
