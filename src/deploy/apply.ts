// `apply` as a composition: evaluate chunk by chunk, start each chunk's builds, probe (taking the targets' locks)
// and plan, then run the stages (per chunk when streamed: src/deploy/stream.ts), release the locks; summarise.
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { takeoverText } from '../lock/text.js';
import { planProbed, type PrepareOptions } from '../prepare/prepare.js';
import { evaluateFleet, evaluateFleetParts, type Evaluated } from '../evaluate/evaluate.js';
import type { Command } from '../events.js';
import type { ProbeLock } from '../lock/take.js';
import type { Plan } from '../plan/types.js';
import { startBuilds } from '../build/builds.js';
import { reviewPlan } from './review.js';
import { ExitCode } from '../errors.js';
import { decideExitCode } from './outcome.js';
import { schedule, stagePools } from './scheduler.js';
import { mergeParts, streamsDeploy, takeParts, type Probed } from './stream.js';
import { STAGES } from './stages.js';
import { SshConnectError } from '../transport/ssh.js';
import { fleetVersion } from '../version.js';
import { deployerIdentity } from '../agent/lock.js';
import { gitRevision } from '../records/git.js';
import type { RecordContext } from '../records/record.js';
import type { EmitEvent } from '../events.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { createRunContext, stopReason } from './context.js';
import { createLedger, type NodeResult } from './ledger.js';
import type { DeployPolicy } from './policy.js';
import type { LoadedKeys } from '../keys/sources.js';

/** Every planned node's word when the plan is declined at review (`-i`, key n). */
const DECLINED = 'not deployed: the plan was declined at review';

export interface ApplyResult {
  plan?: Plan;
  nodes: Record<string, NodeResult>;
  exitCode: number;
  interrupted: boolean;
  /** For stderr: locks that could not be released (they expire by themselves). */
  warnings: string[];
}

/** Where the nodes' new systems come from: evaluation (apply), or the targets' own records (rollback). */
export interface SystemSource {
  command: Command;
  resolve(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: PrepareOptions): Promise<Evaluated>;
  /** The same in parts, each as soon as it is known (evaluation's chunks): apply goes on with a part while others come. */
  parts?(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: PrepareOptions): AsyncIterable<Evaluated>;
  /** Builds may start before the plan (evaluated systems); a rollback's systems are already on the targets. */
  buildsEarly: boolean;
}

const EVALUATE: SystemSource = { command: 'apply', resolve: evaluateFleet, parts: evaluateFleetParts, buildsEarly: true };

export interface ApplyOptions {
  runId: string;
  policy: DeployPolicy;
  /** Commands on the deployer. */
  run: RunCommand;
  pool: HostPool;
  emit: EmitEvent;
  /** The user's Ctrl+C / SIGTERM. */
  signal: AbortSignal;
  source?: SystemSource;
  /** The selected nodes' keys, read on the deployer before any target was touched; absent: the fleet has none. */
  keys?: LoadedKeys;
  /** Hands over the nodes mid-activation as soon as the run exists (the CLI's forced quit names them). */
  onActivating?: (activating: ReadonlySet<string>) => void;
}

export async function applyFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: ApplyOptions): Promise<ApplyResult> {
  const { policy } = options;
  // Asked of git once per run, while Nix evaluates; only goals that change a node write records.
  const records = policy.records ? recordContext(fleet, options, policy.records) : undefined;
  const source = options.source ?? EVALUATE;
  const run = createRunContext({ id: options.runId, fleet, nodes, emit: options.emit, signal: options.signal, run: options.run, pool: options.pool, ...(records ? { records } : {}), ...(options.keys ? { keys: options.keys } : {}) });
  const ledger = createLedger({ emit: run.emit, stop: run.stop, failFast: policy.failFast });
  options.onActivating?.(ledger.activating);
  // The probe takes each target's lock (one round trip); `locks` renews them from then on.
  const lock: ProbeLock = { op: policy.breakLock ? 'break' : 'take', identity: run.lockIdentity, ...readIfCurrent(policy, source, nodes, options.keys) };
  const prepare: PrepareOptions = {
    goal: policy.goal, force: policy.force, showTrace: policy.showTrace, rollout: policy.rollout, run: run.run, pool: run.pool, emit: run.emit, signal: run.stop.signal, lock,
  };
  run.emit({ type: 'run-start', command: source.command, goal: policy.goal, nodes: nodes.map((n) => n.name), fleetVersion: fleetVersion() });

  let plan: Plan;
  let warnings: string[];
  let declined = false;
  try {
    const streamed = streamsDeploy(policy);
    const builds = startBuilds(run, policy, [], new Map());
    const pools = stagePools(policy.parallel);
    /** A node's final word from the evaluation or the probe; a probed target's lock is held from now on. */
    const register = (probed: Probed) => {
      for (const [name, state] of Object.entries(probed.states)) {
        run.targets.set(name, state);
        if (state.lock?.state !== 'taken') continue;
        run.locks.hold(run.nodes.get(name)!);
        if (state.lock.holder || state.lock.expired) run.emit({ type: 'node-phase', node: name, phase: 'query', detail: takeoverText(state.lock) });
      }
      for (const f of probed.failures) {
        // The probe ran but its answer was lost: it may have taken the lock.
        if (f.phase === 'query') run.locks.maybeHeld(run.nodes.get(f.node)!);
        // A connect cancelled by Ctrl+C (or the stop) is a node never started, not a node that failed; so is a probe
        // the fail-fast stop cut short (an earlier chunk's node failed while this chunk's targets were asked).
        const cut = (f.cause instanceof SshConnectError && f.cause.reason === 'canceled') || (f.phase === 'query' && run.stop.signal.aborted && !run.signal.aborted);
        if (cut) ledger.finish(f.node, 'skipped', stopReason(run));
        else ledger.finish(f.node, 'failed', f.message, f.log ? f.log.split('\n').filter((l) => l.trim() !== '') : undefined);
      }
    };
    /** The planned nodes that still need doing (locked ones end here). */
    const pendingOf = (part: Plan): Plan => {
      for (const np of part.nodes) if (np.lock?.state === 'held' && !np.lock.expired) ledger.finish(np.name, 'locked', np.reason);
      return { ...part, nodes: part.nodes.filter((np) => !ledger.results.has(np.name)) };
    };
    // The evaluation stops for Ctrl+C only: after a fail-fast stop it goes on, so every broken node is named.
    const evaluation = source.parts ? source.parts(fleet, nodes, { ...prepare, signal: run.signal }) : [await source.resolve(fleet, nodes, prepare)];
    const parts = await takeParts({
      fleet, evaluation, builds, prepare, register, stop: run.stop, buildsEarly: source.buildsEarly,
      // Streamed: each part's nodes go on at once, in the run's --parallel pools.
      ...(streamed ? { onPlan: (part: Plan) => {
        run.emit({ type: 'plan', plan: part });
        return schedule({ run, policy, ledger }, pendingOf(part), builds, STAGES, pools);
      } } : {}),
    });
    const all = mergeParts(nodes, parts);
    plan = planProbed(fleet, all.evaluated, all.probed, prepare);
    if (!streamed) {
      // The whole plan, at once: the review, the waves and fail-fast's clean evaluation need it.
      run.emit({ type: 'plan', plan });
      builds.keepOnly(plan);
      const pending = pendingOf(plan);
      if (policy.review && !(await reviewPlan(run, policy.goal, pending, builds, policy.review))) {
        // Declined (or Ctrl+C while waiting): nothing was copied or activated; the builds stop.
        declined = !run.signal.aborted;
        run.stop.abort();
        for (const np of plan.nodes) ledger.finish(np.name, 'skipped', declined ? DECLINED : stopReason(run));
      } else {
        await schedule({ run, policy, ledger }, pending, builds, STAGES, pools);
      }
    }
    await builds.settled();
  } finally {
    // At the end, on error and after Ctrl+C (activations have finished by now); a forced quit leaves them to expire.
    warnings = await run.locks.releaseAll();
  }
  for (const node of nodes) if (!ledger.results.has(node.name)) ledger.finish(node.name, 'skipped', 'not planned');

  const interrupted = run.signal.aborted;
  const results = Object.fromEntries(nodes.map((n) => [n.name, ledger.results.get(n.name)!]));
  // Declining the plan at review is a successful "no": nothing was touched.
  const exitCode = declined ? ExitCode.ok : decideExitCode(Object.values(results).map((r) => r.outcome), interrupted);
  run.emit({ type: 'summary', command: source.command, goal: policy.goal, exitCode, durationMs: Date.now() - run.startedAt, interrupted, nodes: results });
  return { plan, nodes: results, exitCode, interrupted, warnings: [...ledger.warnings, ...warnings] };
}

/** Nodes a no-op leaves alone whatever the plan says once they are current: no keys to upload, no reboot, no
 *  --force; their probe only reads the lock, so an up-to-date node costs one round trip. */
function readIfCurrent(policy: DeployPolicy, source: SystemSource, nodes: readonly ResolvedNode[], keys: LoadedKeys | undefined): Pick<ProbeLock, 'ifCurrent'> {
  const { goal } = policy;
  if (source !== EVALUATE || policy.force || policy.reboot || (goal !== 'switch' && goal !== 'boot' && goal !== 'test')) return {};
  return { ifCurrent: { goal, nodes: new Set(nodes.filter((n) => !keys?.get(n.name)?.length).map((n) => n.name)) } };
}

async function recordContext(fleet: ResolvedFleet, options: ApplyOptions, notes: Pick<RecordContext, 'on' | 'message'>): Promise<RecordContext> {
  const git = await gitRevision(fleet.dir, options.run);
  return { run: options.runId, by: deployerIdentity(), ...notes, fleetVersion: fleetVersion(), git };
}
