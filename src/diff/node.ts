// One node's diff once its new system exists: waits for the build that makes it (when the plan builds it),
// then compares closures where they live. Shared by `fleet diff` and the plan review of `apply -i`.
import type { LimitFunction } from 'p-limit';
import type { Builds } from '../build/builds.js';
import { NodeError } from '../errors.js';
import type { NodePlan } from '../plan/types.js';
import type { Host } from '../transport/host.js';
import { ClosureReader, compareNode, currentSystemAbsent, newSystemAbsent } from './compare.js';
import type { NodeDiff } from './group.js';

export interface NodeDiffInput {
  plan: NodePlan;
  /** What the node runs now as the goal sees it (absent: nothing yet). */
  from?: string;
  target: Host;
  builds: Builds;
  reader: ClosureReader;
  /** Bounds the reads at once (file descriptors, sshd MaxStartups); the wait for the build is not counted. */
  limit: LimitFunction;
  /** Told when the wait for the build ends and the closures are read. */
  reading?: () => void;
  /** Ends the wait for the build early (`-i`: the review was decided, the diff is no longer wanted). */
  signal?: AbortSignal;
}

export type NodeDiffResult = { kind: 'diff'; diff: NodeDiff } | { kind: 'failed'; error: NodeError };

export async function diffWhenBuilt(input: NodeDiffInput): Promise<NodeDiffResult> {
  const np = input.plan;
  let newHost = input.target; // not built by the plan: the target already holds it (or runs it)
  if (np.buildJob !== undefined) {
    const built = await untilAborted(input.builds.result(np.buildJob, np.drvPath), input.signal);
    if (!built?.built.has(np.outPath)) {
      const why = built?.canceled || input.signal?.aborted ? 'interrupted' : (built?.error ?? 'build failed');
      return { kind: 'failed', error: new NodeError(np.name, 'build', why, { log: built?.log.join('\n') ?? '' }) };
    }
    newHost = input.builds.hostOf(np.buildJob);
  }
  input.reading?.();
  try {
    const c = await input.limit(() => compareNode(input.reader, { node: np.name, ...(input.from ? { from: input.from } : {}), to: np.outPath, target: input.target, newHost }));
    if (c.kind === 'diff') return c;
    const why = c.kind === 'new-absent' ? newSystemAbsent(np.outPath, newHost.label) : currentSystemAbsent(c.path);
    return { kind: 'failed', error: new NodeError(np.name, 'query', why) };
  } catch (error) {
    return { kind: 'failed', error: new NodeError(np.name, 'query', error instanceof Error ? error.message : String(error), { cause: error }) };
  }
}

/** `promise`, or undefined as soon as `signal` aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T> | undefined, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal || !promise) return Promise.resolve(promise);
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
