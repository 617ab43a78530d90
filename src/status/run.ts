// `fleet status`: one evaluation, then one read-only probe per node, all at once (no lock taken: the probe
// only reads the lock, the records and what runs). Every node gets a state; nothing is changed.
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { ExitCode, NodeError } from '../errors.js';
import type { EmitEvent } from '../events.js';
import { evaluateFleet } from '../evaluate/evaluate.js';
import { probeTargets } from '../probe/probe.js';
import { readOnlyLock } from '../lock/take.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { fleetVersion } from '../version.js';
import { classify, unreachableStatus, withKeys, type NodeStatus } from './classify.js';
import { inspectKeys } from '../keys/inspect.js';
import { keysStatus, type KeysStatus } from '../keys/protocol.js';
import type { LoadedKeys } from '../keys/sources.js';

export interface StatusOptions {
  runId: string;
  showTrace: boolean;
  /** --exit-code: exit 1 when any node is not in-sync. */
  exitCode: boolean;
  run: RunCommand;
  pool: HostPool;
  /** The fleet file's keys (read once on the deployer): each reachable node's are compared by hash. */
  keys?: LoadedKeys;
  emit: EmitEvent;
  signal: AbortSignal;
}

export interface StatusResult {
  statuses: NodeStatus[]; // fleet-file order
  failures: NodeError[]; // nodes that could not be evaluated
  exitCode: number;
}

/** Exit 0 when every node was evaluated and asked; --exit-code: also 1 when any is not in-sync. */
export function statusExitCode(statuses: readonly NodeStatus[], evalFailures: number, exitCodeFlag: boolean, interrupted: boolean): number {
  if (interrupted) return ExitCode.interrupted;
  if (evalFailures > 0 || statuses.some((s) => s.state === 'unreachable')) return ExitCode.nodesFailed;
  return exitCodeFlag && statuses.some((s) => s.state !== 'in-sync') ? ExitCode.nodesFailed : ExitCode.ok;
}

export async function statusFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: StatusOptions): Promise<StatusResult> {
  const started = Date.now();
  // `goal` says what "desired" means: the system a switch would deploy.
  options.emit({ type: 'run-start', command: 'status', goal: 'switch', nodes: nodes.map((n) => n.name), fleetVersion: fleetVersion() });
  const prepare = { goal: 'switch' as const, force: false, showTrace: options.showTrace, run: options.run, pool: options.pool, emit: options.emit, signal: options.signal };
  // The SSH handshakes overlap the evaluation (evaluateFleet starts them).
  const evaluated = await evaluateFleet(fleet, nodes, prepare);
  const desired = Object.fromEntries(evaluated.nodes.map((n) => [n.name, evaluated.evals[n.name]!.outPath]));
  const lock = readOnlyLock(options.runId);
  const probed = await probeTargets(options.pool, evaluated.nodes, desired, options.signal, lock, true);
  const errors = new Map(probed.errors.map((e) => [e.node, e]));
  const asked = evaluated.nodes.filter((n) => probed.states[n.name]);
  const reads = options.keys ? await inspectKeys(options.pool, asked, options.keys, options.signal) : new Map();
  const keysOf = (name: string): KeysStatus | undefined => {
    const read = reads.get(name);
    if (!read) return undefined;
    return read.ok ? keysStatus(options.keys!.get(name)!, read.reply) : { current: 0, missing: [], outdated: [], stale: [], error: read.error };
  };

  const statuses = evaluated.nodes.map((node): NodeStatus => {
    const state = probed.states[node.name];
    if (state) return withKeys(classify(node.name, node.profile, desired[node.name]!, state), keysOf(node.name));
    return unreachableStatus(node.name, desired[node.name]!, errors.get(node.name)?.message ?? `${node.name}: no answer`);
  });
  for (const s of statuses) options.emit({ type: 'status', ...s });
  const failures = evaluated.failures;
  for (const f of failures) options.emit({ type: 'node-done', node: f.node, outcome: 'failed', error: f.message });

  const interrupted = options.signal.aborted;
  const exitCode = statusExitCode(statuses, failures.length, options.exitCode, interrupted);
  // As for plan: nothing changes, so the summary names only the nodes that could not be evaluated or asked.
  const results = Object.fromEntries([
    ...failures.map((f) => [f.node, { outcome: 'failed' as const, error: f.message }] as const),
    ...statuses.filter((s) => s.state === 'unreachable').map((s) => [s.node, { outcome: 'failed' as const, error: s.reason }] as const),
  ]);
  options.emit({ type: 'summary', command: 'status', goal: 'switch', exitCode, durationMs: Date.now() - started, interrupted, nodes: results });
  return { statuses, failures, exitCode };
}
