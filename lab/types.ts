// The lab's public shapes: what tests and scripts/lab.ts see of a running lab.

export interface LabHost {
  name: string;
  port: number;
  dir: string; // <lab>/<name>: keys, sshd_config, sshd.log, pidfiles, and the host's /nix
  pid: number; // the unshare process
  sshdPid: number; // the sshd listener (unshare's child)
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface WriteFleetOptions {
  nixFile: string; // written as nix.file (absolute, or relative to the fleet file's directory)
  path?: string; // default <lab>/fleet.yaml
  tags?: Record<string, string[]>; // per node name
  defaults?: Record<string, unknown>; // merged into the fleet file's defaults
  nodes?: Record<string, Record<string, unknown>>; // extra keys per node (buildHost, attr...)
  extra?: Record<string, unknown>; // extra top-level keys (builders...)
  /** systemd labs: how nodes name their host: the IPv4 address (default), `[v6]`, or the ssh_config alias. */
  address?: 'v4' | 'v6' | 'alias';
}

/** What every lab offers, light or systemd. */
export interface LabCommon {
  dir: string;
  sshConfig: string; // <lab>/ssh_config: one `Host <name>` block per host (more aliases on systemd labs)
  knownHosts: string;
  key: string; // the client's private key
  witness: string; // build-witness log, mode 666, created empty: fixture builds on the deployer (and on hosts) append to it
  /** Runs argv inside the host (its namespaces, not over ssh). */
  exec(host: string, argv: string[]): Promise<ExecResult>;
  /** SSH logins the host accepted since the lab became ready (the lab's own readiness logins excluded). */
  handshakes(host: string): Promise<number>;
  /** Kills every process of every host and waits for them; keeps the files unless remove. Idempotent. */
  stop(opts?: { remove?: boolean }): Promise<void>;
  /** stop({ remove: true }) unless FLEET_LAB_KEEP=1 (then the files stay for a post-mortem). */
  down(): Promise<void>;
  /** Writes a fleet file for the lab's hosts; returns its path. */
  writeFleet(opts: WriteFleetOptions): Promise<string>;
}

/** A light lab: each host a bare sshd on 127.0.0.1 with its own store and /run (no systemd). */
export interface Lab extends LabCommon {
  kind: 'light';
  hosts: LabHost[];
}
