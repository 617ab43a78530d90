// What every part of one deploy run shares: who it is, where its events go, how it stops, the machines it
// talks to and what they said. Decisions live in the policy (policy.ts), results in the ledger (ledger.ts).
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { EmitEvent } from '../events.js';
import { createAgentClient } from '../agent/client.js';
import { deployerIdentity, type LockIdentity } from '../agent/lock.js';
import type { TargetState } from '../agent/state.js';
import { createLockKeeper, lockRunner, type LockKeeper } from '../lock/keeper.js';
import type { LoadedKeys } from '../keys/sources.js';
import type { RecordContext } from '../records/record.js';
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import { linkedStop } from '../util/abort.js';
import { createConfirmPlanner, type ConfirmPlanner } from './confirm-plan.js';

export interface RunContext {
  readonly id: string;
  readonly fleet: ResolvedFleet;
  readonly nodes: ReadonlyMap<string, ResolvedNode>;
  readonly emit: EmitEvent;
  /** The user's Ctrl+C / SIGTERM: tells an interrupted run from one stopped by its own failure. */
  readonly signal: AbortSignal;
  /** Aborted by Ctrl+C or, without --keep-going, by the first failure: nothing new starts after it. */
  readonly stop: AbortController;
  /** Commands on the deployer (Nix, git). */
  readonly run: RunCommand;
  readonly pool: HostPool;
  /** What each target reported when probed (filled in once the probes are done). */
  readonly targets: Map<string, TargetState>;
  /** Who this run is in the targets' lock records. */
  readonly lockIdentity: LockIdentity;
  /** The targets' locks this run holds: renewed while it lives, released at its end. */
  readonly locks: LockKeeper;
  /** Who this run is in the targets' deploy records (git is asked once, while Nix evaluates); absent: none written. */
  readonly records?: Promise<RecordContext>;
  /** The selected nodes' keys, read on the deployer before any target was touched; absent: the fleet has none. */
  readonly keys?: LoadedKeys;
  readonly startedAt: number;
  /** Magic rollback's confirmations before new work, and activations admitted as their confirmations fit the window. */
  readonly confirms: ConfirmPlanner;
}

export interface RunContextInput {
  id: string;
  fleet: ResolvedFleet;
  nodes: readonly ResolvedNode[];
  emit: EmitEvent;
  signal: AbortSignal;
  run: RunCommand;
  pool: HostPool;
  records?: Promise<RecordContext>;
  keys?: LoadedKeys;
}

export function createRunContext(input: RunContextInput): RunContext {
  const { id, pool } = input;
  const lockIdentity: LockIdentity = { run: id, by: deployerIdentity(), pid: process.pid };
  return {
    id, fleet: input.fleet, nodes: new Map(input.nodes.map((n) => [n.name, n])), emit: input.emit, signal: input.signal,
    stop: linkedStop(input.signal), run: input.run, pool, targets: new Map(), lockIdentity,
    locks: createLockKeeper({ identity: lockIdentity, parallel: pool.limits.probes, run: lockRunner((node) => createAgentClient(pool.targetOf(node), { id, lock: lockIdentity })) }),
    ...(input.records ? { records: input.records } : {}),
    ...(input.keys ? { keys: input.keys } : {}),
    startedAt: Date.now(),
    confirms: createConfirmPlanner(() => pool.bestConnectMs()),
  };
}

/** Why a node that has not started its next step never will. */
export function stopReason(run: Pick<RunContext, 'signal'>): string {
  return run.signal.aborted ? 'interrupted before it started' : 'not started: an earlier node failed (use --keep-going to continue past failures)';
}
