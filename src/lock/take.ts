// How a run takes the targets' locks: the probe does it in its one round trip (src/probe/probe.ts), as told here.
import { deployerIdentity, type LockIdentity, type LockOp } from '../agent/lock.js';
import type { Goal } from '../goal.js';

/** What the probe does with each target's lock: `read` (fleet plan) or `take`/`break` (apply) it, as `identity`. */
export interface ProbeLock {
  op: Extract<LockOp, 'read' | 'take' | 'break'>;
  identity: LockIdentity;
  /** apply: these nodes, when already on their new system (for `goal`), are only read, not locked: apply leaves
   *  them unchanged, so a no-op costs one round trip per node (no release at the end). */
  ifCurrent?: { goal: Goal; nodes: ReadonlySet<string> };
}

/** `fleet plan` and `fleet status` only read each target's lock (unprivileged); they never take one. */
export function readOnlyLock(runId: string): ProbeLock {
  return { op: 'read', identity: { run: runId, by: deployerIdentity(), pid: process.pid } };
}
