// Read-only questions to targets, all at once: one ssh master and one probe per node.
import pLimit from 'p-limit';
import { parseProbe, probeArgv } from '../agent/agent.js';
import type { ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import type { Host } from '../transport/host.js';
import { failureReason } from '../transport/run.js';
import type { HostPool } from '../transport/pool.js';
import type { TargetState } from './types.js';

/** One probe of one node (read-only); throws with the node's words when it cannot be read. */
export async function readTargetState(host: Host, node: ResolvedNode, outPath: string, signal?: AbortSignal): Promise<TargetState> {
  const r = await host.run(probeArgv(node.profile, outPath), { signal, timeoutMs: node.connectTimeoutMs + 30_000 });
  if (r.failed) throw new NodeError(node.name, 'query', `cannot read the node's state: ${failureReason(r)}`, { log: r.stderr });
  return parseProbe(r.stdout);
}

export interface ProbeOutcome {
  states: Record<string, TargetState>;
  errors: NodeError[];
}

export async function probeTargets(pool: HostPool, nodes: readonly ResolvedNode[], outPaths: Record<string, string>, signal?: AbortSignal): Promise<ProbeOutcome> {
  const states: Record<string, TargetState> = {};
  const errors: NodeError[] = [];
  const limit = pLimit(64); // bounds file descriptors and sshd MaxStartups, not speed
  await Promise.all(
    nodes.map((node) =>
      limit(async () => {
        const host = pool.forNode(node);
        try {
          await host.connect();
        } catch (error) {
          errors.push(new NodeError(node.name, 'connect', (error as Error).message, { cause: error }));
          return;
        }
        try {
          states[node.name] = await readTargetState(host, node, outPaths[node.name] ?? '/nonexistent', signal);
        } catch (error) {
          errors.push(error as NodeError);
        }
      }),
    ),
  );
  return { states, errors };
}
