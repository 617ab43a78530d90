// The resolved fleet: what every later stage consumes. Defaults are applied, paths are absolute.
import type { Diagnostic } from '../errors.js';

/** A parsed host spec: `host`, `user@host`, `ssh://user@host:port`, `ssh-ng://…`, `[::1]`, `user@[::1]`. */
export interface HostSpec {
  user?: string;
  host: string; // without brackets for IPv6
  port?: number;
}

/** Where a node's system is built. */
export type BuildHostRef =
  | { kind: 'local' }
  | { kind: 'target' }
  | { kind: 'builders' } // Nix's remote builds over every builder (`--builders`), its scheduler picks
  | { kind: 'builder'; name: string } // a key under `builders:`
  | { kind: 'host'; spec: HostSpec }; // an ad-hoc host spec

export interface Builder {
  name: string;
  host: HostSpec; // user: the host spec's, else the builder's `user`, else `defaults.user`, else unset (ssh decides)
  systems: string[];
  maxJobs: number;
  speedFactor: number;
  supportedFeatures: string[];
  mandatoryFeatures: string[];
  publicHostKey?: string; // base64 of the host's public key line, as in Nix machines files
  sshOptions: string[]; // the builder's own, else `defaults.sshOptions`
  sshConfig?: string; // absolute path of an ssh_config file (the builder's own, else `defaults.sshConfig`); ssh gets `-F <sshConfig>`
  connectTimeoutMs: number; // `defaults.connectTimeout` (default 10s), like the other fleet-wide SSH settings
}

export interface ResolvedNode {
  name: string;
  host: string; // host name or address, IPv6 without brackets
  port?: number;
  user: string;
  tags: string[];
  buildHost: BuildHostRef;
  sshOptions: string[];
  attr?: string; // overrides the evaluated attribute
  system?: string; // e.g. x86_64-linux; checked against builders' systems
  profile: string; // default /nix/var/nix/profiles/system
  privilegeEscalation: string[]; // used when user != root; default ["sudo", "-H", "--"]
  substituteOnDestination: boolean;
  checkSystem: boolean; // verify bin/switch-to-configuration exists before activating
  sshConfig?: string; // absolute path of an ssh_config file; ssh gets `-F <sshConfig>`
  connectTimeoutMs: number; // from `connectTimeout` (default 10s)
  activationTimeoutMs: number; // from `activationTimeout` (default 10m)
  magicRollback: boolean; // switch/test: revert unless confirmed over a new connection (default true)
  confirmTimeoutMs: number; // from `confirmTimeout` (default 30s)
  lockTimeoutMs: number; // from `lockTimeout` (default 5m): the target's lock expires this long after its last renewal
  stateDir: string; // on the target: where the deploy records are kept (default /var/lib/fleet)
  healthChecks: HealthCheck[]; // the node's own list, else `defaults.healthChecks`, else none
  keys: ResolvedKey[]; // by name: the node's own, else its tags' (tagDefaults), else `defaults.keys`; sorted by name
  copy: CopySetting; // the node's own `copy`, else its first tag's that sets one, else `defaults.copy`, else push
}

/** The fleet file's `cache`, paths resolved: where fleet uploads (`url`), where nodes fetch (`substituter`). */
export interface CacheConfig {
  url: string;
  substituter: string; // `url` when not set
  publicKey: string;
  signingKey?: string; // absolute path of the secret key file; read by Nix on the deployer only
}

/** How a node's system reaches it: pushed over its SSH connection, or fetched from the fleet's cache
 *  (strict: a node that cannot fetch fails instead of falling back to push). */
export type CopySetting = { route: 'push' } | { route: 'cache'; strict: boolean; cache: CacheConfig };

/** Where a key's content is read on the deployer, at run time (never from the fleet file itself). */
export type KeySource =
  | { kind: 'file'; path: string } // absolute
  | { kind: 'command'; argv: string[] } // run in the fleet file's directory, stdin closed
  | { kind: 'env'; name: string };

export type KeyUploadAt = 'pre-activation' | 'post-activation';

/** One secret of a node (`keys:`), defaults applied. */
export interface ResolvedKey {
  name: string; // its file name
  source: KeySource;
  destDir: string; // absolute, without a trailing `/`
  path: string; // destDir/name on the node
  user: string;
  group: string;
  permissions: number; // the file's mode bits, e.g. 0o600
  uploadAt: KeyUploadAt;
}

/** One health check, defaults applied: at most `retries + 1` attempts, `intervalMs` apart, each bounded by `timeoutMs`. */
export type HealthCheck = {
  name: string;
  timeoutMs: number; // default 10s
  retries: number; // default 3
  intervalMs: number; // default 2s
} & (
  | { kind: 'command'; command: string[] } // run on the target, escalated when the SSH user is not root
  | { kind: 'http'; url: string; expectStatus: number; expectBody?: string } // from the deployer; `{host}` still in `url`
);

/** A wave size or a failure budget: a number of nodes, or a percentage (0..100) of a total. */
export type Amount = { count: number } | { percent: number };

export type OnFailure = 'rollback-wave' | 'rollback-all' | 'stop';

/** Between waves: nothing, a delay, or a question on the terminal. */
export type Pause = { kind: 'none' } | { kind: 'delay'; ms: number } | { kind: 'confirm' };

/** The fleet file's `rollout`, defaults applied (one wave of every node, no failure allowed). */
export interface RolloutConfig {
  waves: Amount[];
  order: string[]; // selectors in the `--on` language
  maxFailures: Amount;
  onFailure: OnFailure;
  pause: Pause;
}

/** How much memory evaluation may use: the deployer's available memory less a reserve, a size, or a share of it. */
export type MemorySetting = { kind: 'auto' } | { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number };

/** How nodes are evaluated: `nix.evalMemory` of the fleet file, `--eval-memory` and `--eval-workers` over it. */
export interface EvalSettings {
  evalMemory?: MemorySetting; // absent: auto
  evalWorkers?: number | 'auto'; // absent: auto (one per CPU)
}

export interface ResolvedFleet {
  file: string; // absolute path of the fleet file
  dir: string; // its directory: relative paths in the file resolve against it
  nix: ({ file: string } | { flake: string }) & EvalSettings; // absolute path (file) or flake reference (local paths made absolute)
  allowApplyAll: boolean;
  buildersUseSubstitutes: boolean; // Nix's `builders-use-substitutes` for `buildHost: builders`
  builders: Record<string, Builder>; // in file order
  nodes: Record<string, ResolvedNode>; // in file order
  rollout?: RolloutConfig; // absent without a `rollout` key: one wave, no staged output
  cache?: CacheConfig; // absent without a `cache` key: every node is pushed to
  warnings: Diagnostic[];
}
