// One Host abstraction (as colmena's): everything that touches a machine goes through it.
import type { CommandResult, RunOptions } from './run.js';

export interface Host {
  /** Short name for messages: `local` or the node/builder name. */
  readonly label: string;
  readonly isLocal: boolean;
  /** Run argv on the machine; remote argv is quoted by quoteArgv, never concatenated. */
  run(argv: string[], options?: RunOptions): Promise<CommandResult>;
  /** Run argv over a brand-new connection of its own (own TCP connection and authentication), never the
   *  master: proves the machine can be reached now (magic-rollback confirmation). Locally: just runs. */
  runFresh(argv: string[], options?: RunOptions): Promise<CommandResult>;
  /** How nix-copy-closure reaches this machine from the deployer (undefined for local). */
  readonly copyTarget?: CopyTarget;
  /** Open the connection up front (one SSH handshake for the whole run). */
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Closes the master now, if one is up; the next command that needs one opens it again (pool eviction). */
  closeMaster?(): Promise<void>;
  /** A master is up (or being opened). */
  readonly hasMaster?: boolean;
  /** For process exit, when nothing async can run any more. */
  closeSync(): void;
  /** A connect that failed, or a master that has died, is forgotten: the next connect() opens a master again and
   *  reports its failure (`status --watch`: a host back from a reboot or a cut). Within one run a failed connect
   *  stays final; a master that died after it was up is opened again by the next command without this. */
  forgetFailure?(): void;
}

/** A destination for `nix-copy-closure --to/--from`: `user@host` plus the ssh options Nix must use. */
export interface CopyTarget {
  dest: string;
  /** For NIX_SSHOPTS; Nix 2.8 splits it on whitespace, so no element may contain any. */
  sshOpts: string[];
}
