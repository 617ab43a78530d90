// How fleet runs a command of its agent on a node: through the node's privilege escalation when its SSH user
// is not root (a sudo password only ever on stdin), bounded by the node's connect timeout plus the time the
// agent's own short commands may take. One place, so every caller escalates and times out alike.
import type { ResolvedNode } from '../config/types.js';
import type { Host } from '../transport/host.js';
import type { CommandResult } from '../transport/run.js';

/** What an agent command that returns at once (it detaches anything long) may take beyond connecting. */
export const AGENT_CALL_MS = 30_000;

/** Prefix with the node's privilege escalation when it is not reached as root. */
export function withPrivilege(node: Pick<ResolvedNode, 'user' | 'privilegeEscalation'>, argv: string[]): string[] {
  return node.user === 'root' ? argv : [...node.privilegeEscalation, ...argv];
}

/** A privileged command and what goes to its stdin: with a sudo password, `sudo -S -p ''` reads it
 *  there, so it never appears in argv, logs, events or any process list. */
export function privileged(node: Pick<ResolvedNode, 'user' | 'privilegeEscalation'>, argv: string[], sudoPassword?: string): { argv: string[]; input?: string } {
  if (node.user === 'root' || sudoPassword === undefined) return { argv: withPrivilege(node, argv) };
  // Only sudo reads a password this way; the CLI refuses a password for any other escalation (checkPasswordEscalation).
  const [sudo, ...rest] = node.privilegeEscalation;
  return { argv: [sudo!, '-S', '-p', '', ...rest, ...argv], input: `${sudoPassword}\n` };
}

export interface AgentCallOptions {
  /** Needs root on the node (it writes to /run, a profile, the records): escalate. Default: read-only, as the SSH user. */
  escalate?: boolean;
  sudoPassword?: string;
  signal?: AbortSignal;
}

/** Runs an agent command (or any short command) on the node. */
export function runOnNode(host: Host, node: ResolvedNode, argv: string[], options: AgentCallOptions = {}): Promise<CommandResult> {
  const command = options.escalate ? privileged(node, argv, options.sudoPassword) : { argv };
  return host.run(command.argv, {
    timeoutMs: node.connectTimeoutMs + AGENT_CALL_MS,
    ...(command.input !== undefined ? { input: command.input } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
