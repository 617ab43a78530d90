// Writes a deploy record on the target after a verified activation (or an undone one), through the agent, over
// the node's existing SSH master; when it is the node's last step of the run, the same call releases its lock.
// A record that cannot be written is a warning: the node's outcome stands.
import type { AgentClient } from '../agent/client.js';
import type { LockReply } from '../agent/lock.js';
import type { ResolvedNode } from '../config/types.js';
import { makeRecord, recordLine, RECORDS_KEPT, type RecordContext, type RecordInput } from '../records/record.js';

export function recordFailureText(node: Pick<ResolvedNode, 'name' | 'stateDir'>, kind: RecordInput['kind'], reason: string): string {
  return `${node.name}: the ${kind} record could not be written to ${node.stateDir}/records (${reason}); fleet status will not know of this ${kind}`;
}

export interface Finished {
  /** The warning to show when the record could not be written. */
  warning?: string;
  /** release: the agent's answer about the lock; absent when the call failed (the run's end tries again). */
  lock?: LockReply;
}

/** The record (when there is one to write) and, with `release`, the node's lock, in one round trip. */
export async function finishNode(agent: AgentClient, ctx: RecordContext | undefined, input: RecordInput | undefined, release: boolean): Promise<Finished> {
  const { node } = agent;
  const record = ctx && input ? { stateDir: node.stateDir, line: recordLine(makeRecord(ctx, input)), keep: RECORDS_KEPT } : undefined;
  if (!record && !release) return {};
  try {
    const r = await agent.finish({ ...(record ? { record } : {}), release });
    const warning = !record || r.recorded ? undefined : recordFailureText(node, input!.kind, r.failure?.reason ?? r.recordError ?? 'no answer');
    return { ...(warning ? { warning } : {}), ...(r.lock ? { lock: r.lock } : {}) };
  } catch (error) {
    return record ? { warning: recordFailureText(node, input!.kind, error instanceof Error ? error.message : String(error)) } : {};
  }
}
