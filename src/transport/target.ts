// A Target: one node of the fleet as every deploy step reaches it (colmena's `Host`). It knows the node's SSH
// user and privilege escalation and owns the sudo password, so no caller threads either through option bags:
// run as the SSH user, run privileged, run over a new connection, copy a closure to it.
import type { ResolvedNode } from '../config/types.js';
import { copyToTarget, type CopyResult } from './copy.js';
import type { Host } from './host.js';
import type { CommandResult, RunCommand, RunOptions } from './run.js';

/** What escalation needs of a node. */
export type Escalation = Pick<ResolvedNode, 'user' | 'privilegeEscalation'>;

/** Prefix with the node's privilege escalation when it is not reached as root. */
export function withPrivilege(node: Escalation, argv: string[]): string[] {
  return node.user === 'root' ? argv : [...node.privilegeEscalation, ...argv];
}

/** A privileged command and what goes to its stdin: with a sudo password, `sudo -S -p ''` reads it
 *  there, so it never appears in argv, logs, events or any process list. */
export function privileged(node: Escalation, argv: string[], sudoPassword?: string): { argv: string[]; input?: string } {
  if (node.user === 'root' || sudoPassword === undefined) return { argv: withPrivilege(node, argv) };
  // Only sudo reads a password this way; the CLI refuses a password for any other escalation (checkPasswordEscalation).
  const [sudo, ...rest] = node.privilegeEscalation;
  return { argv: [sudo!, '-S', '-p', '', ...rest, ...argv], input: `${sudoPassword}\n` };
}

/** Options of a privileged command: its stdin starts with the password's line (when there is one), then `input`.
 *  sudo -S reads that line a byte at a time and leaves the rest to the command; without a password prompt (NOPASSWD)
 *  the command reads the line itself: a command given `input` must skip it (src/keys/keys.sh waits for a token). */
export type PrivilegedOptions = RunOptions;

export interface CopyClosureInput {
  /** Where the closure is: the deployer (local) or a build host, which then copies directly when it can. */
  from: Host;
  path: string;
  /** --use-substitutes; the node's `substituteOnDestination` turns it on too. */
  useSubstitutes: boolean;
  signal?: AbortSignal;
}

export interface Target {
  readonly node: ResolvedNode;
  /** The node's machine (its SSH master): for what is not a deploy step (diff's store queries). */
  readonly host: Host;
  /** As the node's SSH user, over the master. */
  run(argv: string[], options?: RunOptions): Promise<CommandResult>;
  /** Through the node's privilege escalation when its user is not root (the password on stdin only). */
  runPrivileged(argv: string[], options?: PrivilegedOptions): Promise<CommandResult>;
  /** Privileged, over a brand-new connection of its own (never the master): proves the node can be reached now. */
  runFresh(argv: string[], options?: PrivilegedOptions): Promise<CommandResult>;
  copyClosure(input: CopyClosureInput): Promise<CopyResult>;
}

export interface TargetInput {
  node: ResolvedNode;
  host: Host;
  /** Given once per run (--ask-sudo-password, FLEET_SUDO_PASSWORD_FILE). */
  sudoPassword?: string;
  /** The deployer's command runner (nix-copy-closure runs here). */
  run: RunCommand;
  /** ssh options a build host uses to reach this node directly (no deployer control socket). */
  directSshOpts: string[];
}

export function createTarget(input: TargetInput): Target {
  const { node, host } = input;
  const escalate = (argv: string[], options: PrivilegedOptions = {}): [string[], RunOptions] => {
    const command = privileged(node, argv, input.sudoPassword);
    const stdin = command.input === undefined ? options.input : options.input === undefined ? command.input : Buffer.concat([Buffer.from(command.input), Buffer.from(options.input)]);
    return [command.argv, { ...options, ...(stdin !== undefined ? { input: stdin } : {}) }];
  };
  return {
    node,
    host,
    run: (argv, options) => host.run(argv, options),
    runPrivileged: (argv, options) => host.run(...escalate(argv, options)),
    runFresh: (argv, options) => host.runFresh(...escalate(argv, options)),
    copyClosure: (copy) => copyToTarget({
      run: input.run, from: copy.from, to: host, path: copy.path, directSshOpts: input.directSshOpts, useSubstitutes: copy.useSubstitutes || node.substituteOnDestination,
      ...(copy.signal ? { signal: copy.signal } : {}),
    }),
  };
}
