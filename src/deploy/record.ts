// Writes a deploy record on the target after a verified activation (or an undone one), through the agent,
// over the node's existing SSH master: one round trip, no new handshake. A record that cannot be written
// is a warning: the node's outcome stands.
import { recordArgv } from '../agent/agent.js';
import type { ResolvedNode } from '../config/types.js';
import { makeRecord, recordLine, RECORDS_KEPT, type RecordContext, type RecordInput } from '../records/record.js';
import { failureReason } from '../transport/run.js';
import type { Target } from '../transport/target.js';
import { runOnNode } from '../agent/run.js';

export function recordFailureText(node: Pick<ResolvedNode, 'name' | 'stateDir'>, kind: RecordInput['kind'], reason: string): string {
  return `${node.name}: the ${kind} record could not be written to ${node.stateDir}/records (${reason}); fleet status will not know of this ${kind}`;
}

/** undefined when written; else the warning to show. */
export async function writeRecord(target: Target, ctx: RecordContext, input: RecordInput): Promise<string | undefined> {
  const { node } = target;
  const line = recordLine(makeRecord(ctx, input));
  try {
    const r = await runOnNode(target, recordArgv(node.stateDir, line, RECORDS_KEPT), { escalate: true });
    return r.failed ? recordFailureText(node, input.kind, failureReason(r)) : undefined;
  } catch (error) {
    return recordFailureText(node, input.kind, error instanceof Error ? error.message : String(error));
  }
}
