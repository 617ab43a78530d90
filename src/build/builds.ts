// Builds start as soon as a node is evaluated (its chunk), while targets are still being probed and other chunks
// evaluate: per build location, every derivation the run may need, each once. Builds nobody needs are cancelled.
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildersOption, buildersSshConfig } from '../nix/machines.js';
import type { Evaluated } from '../evaluate/evaluate.js';
import { buildJobId, collectBuilds, locateBuild } from '../plan/plan.js';
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
  /** An evaluated chunk's systems, each on its node's build location: only the derivations no build there makes
   *  already start, as a build of their own (`<id>#2`, `#3`…); one already running or done is awaited, not restarted. */
  add(part: Pick<Evaluated, 'nodes' | 'evals'>): void;
  /** The result of the build that makes `drvPath` on the plan's build job `jobId` (a location). Follows a build
   *  restarted by keepOnly to its successor. */
  result(jobId: string, drvPath: string): Promise<BuildResult> | undefined;
  /** Only these jobs' derivations are wanted (the plan, or what is known of it so far): every build that makes
   *  none of them is cancelled, one that makes some of them restarted with those only. */
  keepOnly(plan: Pick<Plan, 'builds'>): void;
  /** Every build, finished or cancelled (also those started while waiting). */
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

interface Batch {
  /** The id its events carry: the location's id for its first build, then `<id>#2`, `#3`… */
  readonly event: string;
  readonly job: BuildJob;
  readonly cancel: AbortController;
  /** Restarted with fewer derivations: its waiters follow the successor. */
  successor?: Batch;
  /** Ended (built, failed or cancelled): keepOnly lets it be, whatever it made. */
  ended?: boolean;
  result: Promise<BuildResult>;
}

export function startBuilds(run: BuildRun, settings: BuildSettings, jobs: readonly BuildJob[], outOf: ReadonlyMap<string, string>): Builds {
  const locations = new Map<string, { job: BuildJob; builds: number; covering: Map<string, Batch> }>();
  const outs = new Map(outOf);
  const all: Promise<BuildResult>[] = []; // superseded ones included: settled() waits for their processes too
  let viaBuildersOnce: ReturnType<typeof remoteBuilders> | undefined; // one ssh_config per run, restarts included
  const launch = (job: BuildJob, event: string): Batch => {
    const cancel = new AbortController();
    const signal = AbortSignal.any([run.stop.signal, cancel.signal]);
    const host = hostForLocation(run.pool, run.fleet, run.nodes, job.location, job);
    const viaBuilders = job.location.kind === 'builders' ? (viaBuildersOnce ??= remoteBuilders(run)) : undefined;
    // builders: every build goes to Nix's remote builders (0 local jobs); a builder: its maxJobs.
    const maxJobs = viaBuilders ? 0 : job.location.kind === 'builder' ? run.fleet.builders[job.location.builder]?.maxJobs : settings.maxJobs;
    const batch: Batch = { event, job, cancel, result: Promise.resolve<BuildResult>({ ok: false, built: new Set(), started: false, canceled: true, log: [] }) };
    batch.result = (async (): Promise<BuildResult> => {
      let announced = false;
      const r = await buildOnHost({
        run: run.run, host, drvPaths: job.drvPaths, outPaths: job.drvPaths.map((d) => outs.get(d)!),
        useSubstitutes: settings.useSubstitutes, signal, ...(maxJobs !== undefined ? { maxJobs } : {}), ...(viaBuilders ? { realise: viaBuilders } : {}),
        onStart: (drvPaths) => {
          announced = true;
          run.emit({ type: 'build-start', build: event, drvPaths, nodes: job.nodes });
        },
        ...(settings.verbose ? { onLine: (line: string) => run.emit({ type: 'log', build: event, line }) } : {}),
      });
      // Restarted with only what the plan needs: its successor reports under the same id.
      if (batch.successor) return r;
      // Cancelled because the plan needs none of it: not a failure, and nothing to report if it never began.
      if (cancel.signal.aborted && !run.stop.signal.aborted) {
        if (announced) run.emit({ type: 'build-done', build: event, ok: false, error: 'cancelled: the plan needs none of its outputs' });
        return r;
      }
      // A job that never started (all built already, or unreachable) still reports a failure.
      if (announced || !r.ok) {
        if (!announced) run.emit({ type: 'build-start', build: event, drvPaths: job.drvPaths, nodes: job.nodes });
        run.emit({ type: 'build-done', build: event, ok: r.ok, ...(r.error ? { error: r.error } : {}), ...(r.log.length ? { log: r.log } : {}) });
      }
      return r;
    })().finally(() => (batch.ended = true));
    const at = locations.get(job.id)!;
    for (const drv of job.drvPaths) at.covering.set(drv, batch);
    all.push(batch.result);
    return batch;
  };
  const launchJobs = (more: readonly BuildJob[]): void => {
    for (const job of more) {
      let at = locations.get(job.id);
      if (!at) locations.set(job.id, (at = { job, builds: 0, covering: new Map() }));
      const fresh = job.drvPaths.filter((d) => !at.covering.has(d));
      if (fresh.length === 0) continue;
      at.builds += 1;
      launch({ ...job, drvPaths: fresh }, at.builds === 1 ? job.id : `${job.id}#${at.builds}`);
    }
  };
  const follow = async (batch: Batch): Promise<BuildResult> => {
    const r = await batch.result;
    return batch.successor ? follow(batch.successor) : r;
  };
  for (const [drv, out] of outOf) outs.set(drv, out);
  launchJobs(jobs);
  return {
    add(part) {
      // Grouped as earlyBuilds does, leaving out the nodes whose system a build there makes already.
      const jobs = collectBuilds();
      for (const node of part.nodes) {
        const e = part.evals[node.name];
        if (!e) continue;
        const location = locateBuild(node.buildHost, node);
        outs.set(e.drvPath, e.outPath);
        if (!locations.get(buildJobId(location))?.covering.has(e.drvPath)) jobs.add(location, e.drvPath, node.name);
      }
      launchJobs(jobs.list());
    },
    result(jobId, drvPath) {
      const batch = locations.get(jobId)?.covering.get(drvPath);
      return batch && follow(batch);
    },
    keepOnly(plan) {
      const wanted = new Map<string, Set<string>>();
      for (const job of plan.builds) {
        const set = wanted.get(job.id) ?? new Set<string>();
        for (const drv of job.drvPaths) set.add(drv);
        wanted.set(job.id, set);
      }
      for (const [id, at] of locations) {
        const keep = wanted.get(id) ?? new Set<string>();
        for (const batch of new Set(at.covering.values())) {
          if (batch.cancel.signal.aborted) continue;
          const needed = batch.job.drvPaths.filter((d) => keep.has(d));
          if (needed.length === batch.job.drvPaths.length) continue;
          for (const drv of batch.job.drvPaths) if (!keep.has(drv)) at.covering.delete(drv);
          if (batch.ended) continue; // nothing left to save
          // Up-to-date nodes need nothing built (a fresh CI store must not build the whole fleet): restart with
          // what is wanted; what Nix already built stays in its store.
          if (needed.length > 0) batch.successor = launch({ ...batch.job, drvPaths: needed }, batch.event);
          batch.cancel.abort();
        }
      }
    },
    async settled() {
      // Builds added or restarted meanwhile are waited for too.
      for (let seen = -1; seen !== all.length;) {
        seen = all.length;
        await Promise.allSettled(all.slice());
      }
    },
    hostOf: (jobId) => {
      const at = locations.get(jobId);
      if (!at) throw new Error(`no build job ${jobId}`);
      return hostForLocation(run.pool, run.fleet, run.nodes, at.job.location, at.job);
    },
  };
}
