// Executes a plan: builds once per location, copies, activates in parallel; emits events; never throws for a node.
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { BuildJob, BuildLocation, NodePlan, Plan } from '../plan/types.js';
import type { Host } from '../transport/host.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { buildSshOptions } from '../transport/ssh.js';
import { activateNode } from './activate.js';
import { buildOnHost, type BuildResult } from './build.js';
import { copyToTarget } from './copy.js';
import { FAILED_OUTCOMES, stamp, type EmitEvent, type Goal, type Outcome } from './events.js';
import { markActivating } from './inflight.js';
import { decideExitCode } from './outcome.js';
import { prepareDeployment } from './prepare.js';

export interface ApplyOptions {
  goal: Goal;
  force: boolean;
  parallel: number;
  /** Builds at once on the deployer and on targets (builders use their maxJobs); default: Nix's setting. */
  maxJobs?: number | 'auto';
  keepGoing: boolean;
  useSubstitutes: boolean;
  showTrace: boolean;
  verbose?: boolean;
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  signal: AbortSignal;
}

export interface NodeResult {
  outcome: Outcome;
  error?: string;
}

export interface ApplyResult {
  plan: Plan;
  nodes: Record<string, NodeResult>;
  exitCode: number;
  interrupted: boolean;
}


export async function applyFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: ApplyOptions): Promise<ApplyResult> {
  const started = Date.now();
  const { emit, pool } = options;
  const results: Record<string, NodeResult> = {};
  // Aborted by Ctrl+C or, without --keep-going, by the first failure: nothing new starts after it.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every running command listens to it
  const onAbort = () => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.signal.aborted) stop.abort();

  const finish = (node: string, outcome: Outcome, error?: string, log?: string[]) => {
    if (results[node]) return;
    results[node] = { outcome, ...(error ? { error } : {}) };
    emit(stamp({ type: 'node-done', node, outcome, ...(error ? { error } : {}), ...(log?.length ? { log } : {}) }));
    if (FAILED_OUTCOMES.includes(outcome) && !options.keepGoing) stop.abort();
  };

  emit(stamp({ type: 'run-start', goal: options.goal, nodes: nodes.map((n) => n.name) }));
  const prepared = await prepareDeployment(fleet, nodes, { ...options, signal: stop.signal });
  for (const failure of prepared.failures) finish(failure.node, 'failed', failure.message, failure.log ? failure.log.split('\n').filter((l) => l.trim() !== '') : undefined);

  const byName = new Map(nodes.map((n) => [n.name, n]));
  const hostFor = (location: BuildLocation, job: BuildJob): Host => {
    if (location.kind === 'local') return pool.local;
    if (location.kind === 'node') return pool.forNode(byName.get(location.node)!);
    if (location.kind === 'builder') return pool.forBuilder(fleet.builders[location.builder]!);
    return pool.forSpec(location, byName.get(job.nodes[0]!)!);
  };

  const logTo = (subject: string) => (line: string) => emit(stamp({ type: 'log', subject, line }));
  const jobsById = new Map(prepared.plan.builds.map((j) => [j.id, j]));
  const outOf = new Map(prepared.plan.nodes.map((n) => [n.drvPath, n.outPath]));
  const builds = new Map<string, Promise<BuildResult>>();
  for (const job of prepared.plan.builds) {
    const host = hostFor(job.location, job);
    const maxJobs = job.location.kind === 'builder' ? fleet.builders[job.location.builder]?.maxJobs : options.maxJobs;
    builds.set(job.id, (async () => {
      if (stop.signal.aborted) return { ok: false, built: new Set<string>(), error: 'not started', log: [] };
      emit(stamp({ type: 'build-start', buildHost: job.id, drvPaths: job.drvPaths, nodes: job.nodes }));
      for (const node of job.nodes) emit(stamp({ type: 'node-phase', node, phase: 'build', detail: `building on ${job.id}` }));
      const r = await buildOnHost({
        run: options.run, host, drvPaths: job.drvPaths, outPaths: job.drvPaths.map((d) => outOf.get(d)!),
        useSubstitutes: options.useSubstitutes, signal: stop.signal, ...(maxJobs ? { maxJobs } : {}),
        ...(options.verbose ? { onLine: logTo(`build@${job.id}`) } : {}),
      });
      emit(stamp({ type: 'build-done', buildHost: job.id, ok: r.ok, ...(r.error ? { error: r.error } : {}), ...(r.log.length ? { log: r.log } : {}) }));
      return r;
    })());
  }

  const copyLimit = pLimit(options.parallel);
  const activateLimit = pLimit(options.parallel);
  const phase = (node: string) => (p: Phase, detail: string) => emit(stamp({ type: 'node-phase', node, phase: p, detail }));
  const skipIfStopped = (node: string): boolean => {
    if (!stop.signal.aborted) return false;
    finish(node, 'skipped', options.signal.aborted ? 'interrupted before it started' : 'not started: an earlier node failed (use --keep-going to continue past failures)');
    return true;
  };

  const runNode = async (np: NodePlan): Promise<void> => {
    const node = byName.get(np.name)!;
    if (np.buildJob) {
      const built = await builds.get(np.buildJob)!;
      if (!built.built.has(np.outPath)) {
        if (skipIfStopped(np.name)) return;
        return finish(np.name, 'failed', built.error ?? 'build failed', built.log);
      }
    }
    if (options.goal === 'build') return finish(np.name, 'built');
    if (np.copy.kind !== 'none') {
      const copy = np.copy;
      const job = copy.kind === 'from-build-host' ? jobsById.get(copy.buildJob)! : undefined;
      const from = job ? hostFor(job.location, job) : pool.local;
      const copied = await copyLimit(async () => {
        if (skipIfStopped(np.name)) return undefined;
        phase(np.name)('copy', `copying from ${from.label}`);
        return copyToTarget({
          run: options.run, from, to: pool.forNode(node), path: np.outPath, signal: stop.signal,
          directSshOpts: buildSshOptions(pool.endpointOf(node)),
          useSubstitutes: options.useSubstitutes || node.substituteOnDestination,
        });
      });
      if (!copied) return;
      if (!copied.ok && skipIfStopped(np.name)) return; // a copy cut short by the stop: never touched
      if (!copied.ok) return finish(np.name, 'failed', copied.error, copied.log);
    }
    if (options.goal === 'push') return finish(np.name, np.copy.kind === 'none' ? 'unchanged' : 'pushed');
    if (!np.activate) return finish(np.name, 'unchanged');
    await activateLimit(async () => {
      if (skipIfStopped(np.name)) return;
      // From here the node finishes or rolls back even on Ctrl+C: no signal is passed on.
      markActivating(np.name, true);
      const systemd = prepared.states[np.name]?.systemd ?? false;
      try {
        const r = await activateNode({ host: pool.forNode(node), node, goal: options.goal, outPath: np.outPath, systemd, onPhase: phase(np.name), ...(options.verbose ? { onLine: logTo(np.name) } : {}) });
        finish(np.name, r.outcome, r.error, r.log);
      } catch (error) {
        // An unexpected error mid-activation: fleet cannot say what the node runs now.
        finish(np.name, 'rollback-failed', `unexpected error: ${error instanceof Error ? error.message : String(error)}; its state is unknown`);
      } finally {
        markActivating(np.name, false);
      }
    });
  };

  // A bug or an unexpected error fails its node, never the run (during activation: see runNode).
  const guard = async (np: NodePlan) => {
    try {
      await runNode(np);
    } catch (error) {
      finish(np.name, 'failed', `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  await Promise.all(prepared.plan.nodes.map(guard));
  await Promise.all(builds.values());
  options.signal.removeEventListener('abort', onAbort);
  for (const node of nodes) if (!results[node.name]) finish(node.name, 'skipped', 'not planned');

  const interrupted = options.signal.aborted;
  const exitCode = decideExitCode(Object.values(results).map((r) => r.outcome), interrupted);
  emit(stamp({ type: 'summary', goal: options.goal, exitCode, durationMs: Date.now() - started, interrupted, nodes: results }));
  return { plan: prepared.plan, nodes: results, exitCode, interrupted };
}
