// Questions to targets, --probe-parallel at once: one probe per node (which takes the node's lock for apply), over a
// master kept for the stages after it in a small fleet, else over a connection of its own (one ssh, one handshake).
import { createAgentClient, parseGenerations } from '../agent/client.js';
import { lockPath, targetLockOf } from '../agent/lock.js';
import type { TargetState } from '../agent/state.js';
import type { ProbeLock } from '../lock/take.js';
import type { ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import { probeSlots, type HostPool } from '../transport/pool.js';
import type { Target } from '../transport/target.js';
import { parseRecordLines, RECORDS_KEPT } from '../records/record.js';

/** One probe of one node (read-only unless it takes the lock); throws with the node's words when it cannot be read.
 *  records: also read the node's deploy records (stateDir) and whether a reboot is due; 'generations': and the
 *  profile's generations (fleet rollback's choices: one line per generation, so only it asks). */
export async function readTargetState(target: Target, outPath: string, signal?: AbortSignal, lock?: ProbeLock, records: ProbeRecords = false, withoutMaster = false): Promise<TargetState> {
  const { node } = target;
  const agent = createAgentClient(target, lock ? { lock: lock.identity } : {});
  const readIfCurrent = lock?.ifCurrent?.nodes.has(node.name) ? { readIfCurrent: lock.ifCurrent.goal } : {};
  const r = await agent.probe({ outPath, withoutMaster, ...readIfCurrent, ...(lock ? { lock: lock.op } : {}), ...(records ? { records, newest: RECORDS_KEPT } : {}), ...(signal ? { signal } : {}) });
  if (!r.ok) throw new NodeError(node.name, 'query', `cannot read the node's state: ${r.reason}`, { log: r.stderr });
  const state: TargetState = records
    ? { ...r.state, records: parseRecordLines(r.stdout), ...(/^bootChanged=1$/m.test(r.stdout) ? { bootChanged: true } : {}), ...(records === 'generations' ? { generations: parseGenerations(r.stdout) } : {}) }
    : r.state;
  if (!lock) return state;
  const reply = r.lock;
  if (!reply) throw new NodeError(node.name, 'query', 'the agent gave no answer about the lock');
  if (reply.state === 'error') throw new NodeError(node.name, 'query', `cannot ${lock.op === 'read' ? 'read' : 'take'} the lock ${lockPath(node.profile)}: ${reply.error}`);
  const held = targetLockOf(reply);
  return held ? { ...state, lock: held } : state;
}

export type ProbeRecords = boolean | 'generations';

export interface ProbeOutcome {
  states: Record<string, TargetState>;
  errors: NodeError[];
}

export async function probeTargets(pool: HostPool, nodes: readonly ResolvedNode[], outPaths: Record<string, string>, signal?: AbortSignal, lock?: ProbeLock, records: ProbeRecords = false): Promise<ProbeOutcome> {
  const states: Record<string, TargetState> = {};
  const errors: NodeError[] = [];
  // Bounds ssh processes, memory and file descriptors, not speed; the pool's slots are shared by every probe of the run.
  const limit = probeSlots(pool);
  // A master is worth its handshake only when it is kept for the node's next stage.
  const overMasters = pool.keepsMasters(nodes.length);
  await Promise.all(
    nodes.map((node) =>
      limit(async () => {
        const target = pool.targetOf(node);
        if (overMasters) {
          try {
            await target.host.connect();
          } catch (error) {
            errors.push(new NodeError(node.name, 'connect', (error as Error).message, { cause: error }));
            return;
          }
        }
        try {
          states[node.name] = await readTargetState(target, outPaths[node.name] ?? '/nonexistent', signal, lock, records, !overMasters);
        } catch (error) {
          errors.push(error instanceof NodeError ? error : new NodeError(node.name, 'query', (error as Error).message, { cause: error }));
        }
      }),
    ),
  );
  return { states, errors };
}
