// How fleet runs a command of its agent on a node: through the node's Target (privileged when it changes
// something), bounded by the node's connect timeout plus the time the agent's own short commands may take.
import type { CommandResult } from '../transport/run.js';
import type { Target } from '../transport/target.js';

/** What an agent command that returns at once (it detaches anything long) may take beyond connecting. */
export const AGENT_CALL_MS = 30_000;

export interface AgentCallOptions {
  /** Needs root on the node (it writes to /run, a profile, the records): escalate. Default: read-only, as the SSH user. */
  escalate?: boolean;
  signal?: AbortSignal;
}

/** Runs an agent command (or any short command) on the node. */
export function runOnNode(target: Target, argv: string[], options: AgentCallOptions = {}): Promise<CommandResult> {
  const run = { timeoutMs: target.node.connectTimeoutMs + AGENT_CALL_MS, ...(options.signal ? { signal: options.signal } : {}) };
  return options.escalate ? target.runPrivileged(argv, run) : target.run(argv, run);
}
