// Builds start as soon as evaluation is done, while targets are still being probed: one per build
// location, for every derivation the run may need. Once the plan is known, builds nobody needs are cancelled.
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildersOption, buildersSshConfig } from '../nix/machines.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import { collectBuilds, locateBuild } from '../plan/plan.js';
import type { BuildJob, BuildLocation, Plan } from '../plan/types.js';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { EmitEvent } from '../events.js';
import type { HostPool } from '../transport/pool.js';
import type { Host } from '../transport/host.js';
import type { RunCommand } from '../transport/run.js';
import { buildOnHost, type BuildResult } from './build.js';

/** What builds need of a run: apply's run context has it all; `fleet diff` makes one of its own. */
export interface BuildRun {
  readonly fleet: Pick<ResolvedFleet, 'builders' | 'buildersUseSubstitutes'>;
  readonly nodes: ReadonlyMap<string, ResolvedNode>;
  /** Commands on the deployer (shipping .drv closures). */
  readonly run: RunCommand;
  readonly pool: HostPool;
  readonly emit: EmitEvent;
  /** Aborted: every build stops (Ctrl+C, or the run's fail-fast). */
  readonly stop: { readonly signal: AbortSignal };
}

/** How builds go: apply's deploy policy says; `fleet diff` has its own. */
export interface BuildSettings {
  /** Builds at once on the deployer and on targets (default auto); builders use their maxJobs. */
  readonly maxJobs?: number | 'auto';
  readonly useSubstitutes: boolean;
  /** Build output as it comes, as `log` events. */
  readonly verbose?: boolean;
}

export interface Builds {
  /** The result of the build job with this id (the plan's BuildJob ids are the same). */
  result(jobId: string): Promise<BuildResult> | undefined;
  /** The plan is known: cancel every job no planned node waits for. */
  keepOnly(plan: Plan): void;
  /** Every build, finished or cancelled. */
  settled(): Promise<unknown>;
  hostOf(jobId: string): Host;
}

/** The machine a build job runs on (no run state needed: `fleet plan` asks it too). */
export function hostForLocation(pool: HostPool, fleet: Pick<ResolvedFleet, 'builders'>, nodes: ReadonlyMap<string, ResolvedNode>, location: BuildLocation, job: BuildJob): Host {
  if (location.kind === 'local' || location.kind === 'builders') return pool.local;
  if (location.kind === 'node') return pool.forNode(nodes.get(location.node)!);
  if (location.kind === 'builder') return pool.forBuilder(fleet.builders[location.builder]!);
  return pool.forSpec(location, nodes.get(job.nodes[0]!)!);
}

/** What apply builds before the plan, while the targets are asked: every evaluated node's system on its build
 *  location (knowing nothing of the targets, every goal needs them all). `keepOnly` then keeps what the plan needs. */
export function earlyBuilds(evaluated: Pick<Evaluated, 'nodes' | 'evals'>): BuildJob[] {
  const jobs = collectBuilds();
  for (const node of evaluated.nodes) {
    const e = evaluated.evals[node.name];
    if (e) jobs.add(locateBuild(node.buildHost, node), e.drvPath, node.name);
  }
  return jobs.list();
}

/** `--builders` from the fleet's builders, and an ssh_config (per-builder port, options, config) for Nix's ssh. */
function remoteBuilders(run: BuildRun): { args: string[]; env: Record<string, string> } {
  const builders = Object.values(run.fleet.builders);
  const file = join(run.pool.privateDir, 'builders_ssh_config');
  writeFileSync(file, buildersSshConfig(builders, { defaultConfigs: [join(homedir(), '.ssh', 'config'), '/etc/ssh/ssh_config'] }), { mode: 0o600 });
  const substitutes = run.fleet.buildersUseSubstitutes ? ['--option', 'builders-use-substitutes', 'true'] : [];
  return { args: ['--option', 'builders', buildersOption(builders), ...substitutes], env: { NIX_SSHOPTS: `-F ${file}` } };
}

export function startBuilds(run: BuildRun, settings: BuildSettings, jobs: readonly BuildJob[], outOf: ReadonlyMap<string, string>): Builds {
  const started = new Map<string, { job: BuildJob; cancel: AbortController; superseded: boolean; result: Promise<BuildResult> }>();
  const all: Promise<BuildResult>[] = []; // superseded ones included: settled() waits for their processes too
  let viaBuildersOnce: ReturnType<typeof remoteBuilders> | undefined; // one ssh_config per run, restarts included
  const launch = (job: BuildJob): void => {
    const cancel = new AbortController();
    const signal = AbortSignal.any([run.stop.signal, cancel.signal]);
    const host = hostForLocation(run.pool, run.fleet, run.nodes, job.location, job);
    const viaBuilders = job.location.kind === 'builders' ? (viaBuildersOnce ??= remoteBuilders(run)) : undefined;
    // builders: every build goes to Nix's remote builders (0 local jobs); a builder: its maxJobs.
    const maxJobs = viaBuilders ? 0 : job.location.kind === 'builder' ? run.fleet.builders[job.location.builder]?.maxJobs : settings.maxJobs;
    const entry = { job, cancel, superseded: false, result: Promise.resolve<BuildResult>({ ok: false, built: new Set(), started: false, canceled: true, log: [] }) };
    entry.result = (async (): Promise<BuildResult> => {
      let announced = false;
      const r = await buildOnHost({
        run: run.run, host, drvPaths: job.drvPaths, outPaths: job.drvPaths.map((d) => outOf.get(d)!),
        useSubstitutes: settings.useSubstitutes, signal, ...(maxJobs !== undefined ? { maxJobs } : {}), ...(viaBuilders ? { realise: viaBuilders } : {}),
        onStart: (drvPaths) => {
          announced = true;
          run.emit({ type: 'build-start', build: job.id, drvPaths, nodes: job.nodes });
        },
        ...(settings.verbose ? { onLine: (line: string) => run.emit({ type: 'log', build: job.id, line }) } : {}),
      });
      // Restarted with only what the plan needs: its successor reports under the same id.
      if (entry.superseded) return r;
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
    started.set(job.id, entry);
    all.push(entry.result);
  };
  for (const job of jobs) launch(job);
  return {
    result: (jobId) => started.get(jobId)?.result,
    keepOnly(plan) {
      const planned = new Map(plan.builds.map((j) => [j.id, j]));
      for (const [id, entry] of [...started]) {
        const needed = planned.get(id);
        if (!needed) {
          entry.cancel.abort();
        } else if (needed.drvPaths.length < entry.job.drvPaths.length) {
          // Up-to-date nodes need nothing built (a fresh CI store must not build the whole fleet):
          // restart with the plan's derivations; what Nix already built stays in its store.
          entry.superseded = true;
          entry.cancel.abort();
          launch(needed);
        }
      }
    },
    settled: () => Promise.allSettled(all),
    hostOf: (jobId) => {
      const entry = started.get(jobId);
      if (!entry) throw new Error(`no build job ${jobId}`);
      return hostForLocation(run.pool, run.fleet, run.nodes, entry.job.location, entry.job);
    },
  };
}
