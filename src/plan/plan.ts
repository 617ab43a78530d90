// Pure planning: from evaluations and target states to the job DAG. No I/O here, ever.
import { formatHostSpec } from '../config/hostspec.js';
import type { BuildHostRef, Builder, ResolvedNode } from '../config/types.js';
import { goalTraits, isUpToDate, type Goal } from '../goal.js';
import type { NodeEval } from '../nix/eval.js';
import { lockedReason } from '../lock/text.js';
import { planWaves, type WaveRules } from '../rollout/waves.js';
import type { BuildJob, BuildLocation, CacheUpload, CopyRoute, NodePlan, Plan } from './types.js';
import type { TargetState } from '../agent/state.js';
import type { SystemState } from '../target/state.js';

export interface PlanInput {
  goal: Goal;
  force: boolean;
  nodes: readonly ResolvedNode[];
  builders: Readonly<Record<string, Builder>>;
  evals: Readonly<Record<string, NodeEval>>;
  /** Absent for goal `build`, which never asks targets. */
  targets: Readonly<Record<string, TargetState>>;
  /** A staged rollout: the plan gets `waves` (goals that activate only). */
  rollout?: WaveRules;
  /** Every selected node in fleet-file order, failed ones included, for the waves (default: `nodes`). */
  selected?: readonly ResolvedNode[];
}

export function locateBuild(ref: BuildHostRef, node: ResolvedNode): BuildLocation {
  switch (ref.kind) {
    case 'local':
      return { kind: 'local' };
    case 'builders':
      return { kind: 'builders' };
    case 'target':
      return { kind: 'node', node: node.name };
    case 'builder':
      return { kind: 'builder', builder: ref.name };
    case 'host':
      return { kind: 'host', ...ref.spec };
  }
}

export function buildJobId(location: BuildLocation): string {
  switch (location.kind) {
    case 'local':
      return 'local';
    case 'builders':
      return 'builders';
    case 'node':
      return `node:${location.node}`;
    case 'builder':
      return `builder:${location.builder}`;
    case 'host':
      return `host:${formatHostSpec(location)}`;
  }
}

/** Does this build location run on the node's own machine (so no copy is ever needed)? */
export function buildsOnTarget(location: BuildLocation, node: ResolvedNode, builders: PlanInput['builders']): boolean {
  if (location.kind === 'node') return location.node === node.name;
  const spec = location.kind === 'builder' ? builders[location.builder]?.host : location.kind === 'host' ? location : undefined;
  return !!spec && spec.host === node.host && (spec.port ?? 22) === (node.port ?? 22) && (spec.user ?? node.user) === node.user;
}

function planCopy(needsOnTarget: boolean, state: TargetState | undefined, onTarget: boolean, location: BuildLocation, jobId: string, node: ResolvedNode): CopyRoute {
  if (!needsOnTarget) return { kind: 'none', reason: 'not-needed' };
  if (state?.hasOut) return { kind: 'none', reason: 'present' };
  if (onTarget) return { kind: 'none', reason: 'built-on-target' };
  // Remote builders hand their outputs back to the deployer's store: copies go from here.
  const remote = location.kind !== 'local' && location.kind !== 'builders';
  // The cache route uploads from where the closure is: a build host uploads directly, sparing the deployer's uplink.
  if (node.copy.route === 'cache') {
    return { kind: 'cache', strict: node.copy.strict, substituter: node.copy.cache.substituter, publicKey: node.copy.cache.publicKey, ...(remote ? { buildJob: jobId } : {}) };
  }
  return remote ? { kind: 'from-build-host', buildJob: jobId } : { kind: 'from-local' };
}

/** Each closure a cache-route node needs, once (one cache per fleet file). */
function planUpload(nodes: readonly NodePlan[], resolved: ReadonlyMap<string, ResolvedNode>): CacheUpload | undefined {
  const cached = nodes.filter((n) => n.copy.kind === 'cache');
  const setting = cached.map((n) => resolved.get(n.name)?.copy).find((c) => c?.route === 'cache');
  if (!setting || setting.route !== 'cache') return undefined;
  return { url: setting.cache.url, closures: [...new Set(cached.map((n) => n.outPath))].sort() };
}

/** The probe's answer without what only planning needs: what `fleet plan` shows as "from". */
function systemOf(state: TargetState): SystemState {
  const { hasOut: _hasOut, systemd: _systemd, lock: _lock, ...system } = state;
  return system;
}

/** Build jobs, one per location in the order first needed, each derivation once (sorted): the plan's, and the
 *  builds apply starts before it (earlyBuilds, src/build/builds.ts). */
export function collectBuilds(): { add(location: BuildLocation, drvPath: string, node: string): void; list(): BuildJob[] } {
  const jobs = new Map<string, { job: BuildJob; drvs: Set<string> }>();
  return {
    add(location, drvPath, node) {
      const id = buildJobId(location);
      let entry = jobs.get(id);
      if (!entry) jobs.set(id, (entry = { job: { id, location, drvPaths: [], nodes: [] }, drvs: new Set() }));
      entry.drvs.add(drvPath);
      entry.job.nodes.push(node);
    },
    list: () => [...jobs.values()].map(({ job, drvs }) => ({ ...job, drvPaths: [...drvs].sort() })),
  };
}

// Linear in nodes: jobs and their drv sets are maps/sets (one distinct system per node is the real case).
export function createPlan(input: PlanInput): Plan {
  const jobs = collectBuilds();
  const nodes: NodePlan[] = [];
  const traits = goalTraits(input.goal);
  const activating = traits.activates;

  for (const node of input.nodes) {
    const evaluated = input.evals[node.name];
    if (!evaluated) continue; // failed evaluation: reported by the caller, never planned
    const state = input.targets[node.name];
    const location = locateBuild(node.buildHost, node);
    const jobId = buildJobId(location);
    const onTarget = buildsOnTarget(location, node, input.builders);
    const upToDate = activating && !!state && isUpToDate(input.goal, state, evaluated.outPath);
    // Another live run holds the target's lock: apply leaves it alone (no build, copy or activation for it).
    const locked = state?.lock?.state === 'held' && !state.lock.expired;
    const activate = !locked && activating && (input.force || !upToDate);
    const needsOnTarget = !locked && input.goal !== 'build' && (activate || input.goal === 'push');
    const copy = planCopy(needsOnTarget, state, onTarget, location, jobId, node);
    const needsBuild = input.goal === 'build' || (needsOnTarget && !state?.hasOut);

    if (needsBuild) jobs.add(location, evaluated.drvPath, node.name);
    nodes.push({
      name: node.name,
      drvPath: evaluated.drvPath,
      outPath: evaluated.outPath,
      ...(state ? { from: systemOf(state) } : {}),
      to: { system: evaluated.outPath, ...(evaluated.generation !== undefined ? { generation: evaluated.generation } : {}) },
      ...(needsBuild ? { buildJob: jobId } : {}),
      copy,
      activate,
      reason: locked ? lockedReason(state.lock!) : explain(input.goal, activate, upToDate, input.force, copy),
      ...(state?.lock ? { lock: state.lock } : {}),
    });
  }
  const builds = jobs.list();
  const waves = input.rollout && activating ? { waves: planWaves(input.selected ?? input.nodes, input.rollout) } : {};
  const upload = planUpload(nodes, new Map(input.nodes.map((n) => [n.name, n])));
  return { goal: input.goal, builds, nodes, ...waves, ...(upload ? { upload } : {}) };
}

function explain(goal: Goal, activate: boolean, upToDate: boolean, force: boolean, copy: CopyRoute): string {
  if (activate) return upToDate && force ? 'up to date; activating anyway (--force)' : `${goal} needed`;
  if (upToDate) return 'up to date';
  if (goal === 'push') return copy.kind === 'none' && copy.reason === 'present' ? 'already present' : 'push needed';
  return 'build only';
}
