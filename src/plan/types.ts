// The plan is data: printable, diffable, and the only thing `deploy` executes.
import type { Goal } from '../goal.js';
import type { Wave } from '../rollout/waves.js';
import type { SystemState, TargetLock } from '../target/state.js';

export type { Wave };

/** Where a build runs: the deployer, a node itself, a named builder, or an ad-hoc host. */
export type BuildLocation =
  | { kind: 'local' }
  | { kind: 'builders' } // the deployer's Nix, spreading builds over every builder (--builders)
  | { kind: 'node'; node: string }
  | { kind: 'builder'; builder: string }
  | { kind: 'host'; user?: string; host: string; port?: number };

export interface BuildJob {
  id: string; // stable key of the location, e.g. "local", "builders", "builder:big", "node:web-1"
  location: BuildLocation;
  drvPaths: string[]; // distinct, sorted: each built once on this location
  nodes: string[];
}

export type CopyRoute =
  | { kind: 'none'; reason: 'present' | 'built-on-target' | 'not-needed' }
  | { kind: 'from-local' }
  | { kind: 'from-build-host'; buildJob: string } // direct, relaying via the deployer if that fails
  // Uploaded once per run to the fleet's cache from where it was built (the deployer, or the build host `buildJob`),
  // then fetched by the target (src/cache); a target that cannot fetch is pushed to from there, unless strict.
  | { kind: 'cache'; strict: boolean; substituter: string; publicKey: string; buildJob?: string };

/** What a run uploads to the fleet's cache before the first target fetches: each closure once. */
export interface CacheUpload {
  url: string;
  closures: string[]; // distinct, sorted out paths; paths the cache already has are skipped at upload time
}

export interface NodePlan {
  name: string;
  drvPath: string;
  outPath: string;
  /** What the node runs now (absent for `build`, which never asks targets). */
  from?: SystemState;
  /** What it will run: the new toplevel. */
  /** generation: fleet rollback goes back to exactly this existing profile generation. */
  to: { system: string; generation?: number };
  buildJob?: string; // id of the BuildJob producing outPath, if anything must be built
  copy: CopyRoute;
  activate: boolean;
  /** Why nothing (or something) happens; shown by `fleet plan`. */
  reason: string;
  /** The target's lock when another run holds it, or when this run took it over. */
  lock?: TargetLock;
}

export interface Plan {
  goal: Goal;
  builds: BuildJob[];
  nodes: NodePlan[];
  /** A staged rollout (goals that activate): every selected node in exactly one wave, in activation order.
   *  Nodes that could not be planned (evaluation or probe failed) keep their place: they count as failures of their wave. */
  waves?: Wave[];
  /** Nodes on the cache route: what goes to the cache, once, before wave 1. */
  upload?: CacheUpload;
}
