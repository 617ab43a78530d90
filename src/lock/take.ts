// How a run takes the targets' locks: the probe does it in its one round trip (src/probe/probe.ts), as told here.
import { deployerIdentity, type LockIdentity, type LockOp } from '../agent/lock.js';

/** What the probe does with each target's lock: `read` (fleet plan) or `take`/`break` (apply) it, as `identity`. */
export interface ProbeLock {
  op: Extract<LockOp, 'read' | 'take' | 'break'>;
  identity: LockIdentity;
}

/** `fleet plan` and `fleet status` only read each target's lock (unprivileged); they never take one. */
export function readOnlyLock(runId: string): ProbeLock {
  return { op: 'read', identity: { run: runId, by: deployerIdentity(), pid: process.pid } };
}
