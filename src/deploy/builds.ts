// Builds start as soon as evaluation is done, while targets are still being probed: one per build
// location, for every derivation the run may need. Once the plan is known, builds nobody needs are cancelled.
import type { BuildJob, BuildLocation, Plan } from '../plan/types.js';
import type { Host } from '../transport/host.js';
import { buildOnHost, type BuildResult } from './build.js';
import type { RunState } from './state.js';

export interface Builds {
  /** The result of the build job with this id (the plan's BuildJob ids are the same). */
  result(jobId: string): Promise<BuildResult> | undefined;
  /** The plan is known: cancel every job no planned node waits for. */
  keepOnly(plan: Plan): void;
  /** Every build, finished or cancelled. */
  settled(): Promise<unknown>;
  hostOf(jobId: string): Host;
}

export function hostForLocation(run: RunState, location: BuildLocation, job: BuildJob): Host {
  const { pool } = run.options;
  if (location.kind === 'local') return pool.local;
  if (location.kind === 'node') return pool.forNode(run.nodes.get(location.node)!);
  if (location.kind === 'builder') return pool.forBuilder(run.fleet.builders[location.builder]!);
  return pool.forSpec(location, run.nodes.get(job.nodes[0]!)!);
}

export function startBuilds(run: RunState, jobs: readonly BuildJob[], outOf: ReadonlyMap<string, string>): Builds {
  const started = new Map<string, { job: BuildJob; cancel: AbortController; result: Promise<BuildResult> }>();
  for (const job of jobs) {
    const cancel = new AbortController();
    const signal = AbortSignal.any([run.stop.signal, cancel.signal]);
    const host = hostForLocation(run, job.location, job);
    const maxJobs = job.location.kind === 'builder' ? run.fleet.builders[job.location.builder]?.maxJobs : run.options.maxJobs;
    const result = (async (): Promise<BuildResult> => {
      let announced = false;
      const r = await buildOnHost({
        run: run.options.run, host, drvPaths: job.drvPaths, outPaths: job.drvPaths.map((d) => outOf.get(d)!),
        useSubstitutes: run.options.useSubstitutes, signal, ...(maxJobs ? { maxJobs } : {}),
        onStart: (drvPaths) => {
          announced = true;
          run.emit({ type: 'build-start', build: job.id, drvPaths, nodes: job.nodes });
          for (const node of job.nodes) run.emit({ type: 'node-phase', node, phase: 'build', detail: `building on ${job.id}` });
        },
        ...(run.options.verbose ? { onLine: (line: string) => run.emit({ type: 'log', build: job.id, line }) } : {}),
      });
      // Cancelled because the plan needs none of it: not a failure, and nothing to report if it never began.
      if (cancel.signal.aborted && !run.stop.signal.aborted) {
        if (announced) run.emit({ type: 'build-done', build: job.id, ok: false, error: 'cancelled: the plan needs none of its outputs' });
        return r;
      }
      // A job that never started (all built already, or unreachable) still reports a failure.
      if (announced || !r.ok) {
        if (!announced) run.emit({ type: 'build-start', build: job.id, drvPaths: job.drvPaths, nodes: job.nodes });
        run.emit({ type: 'build-done', build: job.id, ok: r.ok, ...(r.error ? { error: r.error } : {}), ...(r.log.length ? { log: r.log } : {}) });
      }
      return r;
    })();
    started.set(job.id, { job, cancel, result });
  }
  return {
    result: (jobId) => started.get(jobId)?.result,
    keepOnly(plan) {
      const needed = new Set(plan.nodes.map((n) => n.buildJob).filter((id) => id !== undefined));
      for (const [id, entry] of started) if (!needed.has(id)) entry.cancel.abort();
    },
    settled: () => Promise.allSettled([...started.values()].map((s) => s.result)),
    hostOf: (jobId) => {
      const entry = started.get(jobId);
      if (!entry) throw new Error(`no build job ${jobId}`);
      return hostForLocation(run, entry.job.location, entry.job);
    },
  };
}
