// Helpers for lab tests: start a lab around a suite, and refuse to pretend when the machine cannot host one.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { execaSync } from 'execa';
import { evalOutPaths, findExecutable, rootfsPaths, startLab, up, writeHive, type Lab, type StandInSpec, type StartLabOptions, type SystemdLab, type SystemdLabOptions } from '../../lab/index.js';
import { downAndMaybeKeep } from '../../lab/keep.js';
import { isCi } from '../../src/ui/choose.js';
import { createAgentClient, type AgentClient } from '../../src/agent/client.js';
import type { LockIdentity } from '../../src/agent/lock.js';
import type { ResolvedNode } from '../../src/config/types.js';
import type { Host } from '../../src/transport/host.js';
import { runLocal, type CommandResult } from '../../src/transport/run.js';
import { createTarget } from '../../src/transport/target.js';
import { resolvedNode } from '../resolved-node.js';
import { runFleet } from './run-fleet.js';

export type { Lab, SystemdLab } from '../../lab/index.js';

const requiredTools = ['unshare', 'nsenter', 'sshd', 'ssh', 'ssh-keygen', 'nix-store', 'nix-instantiate', 'nix-copy-closure', 'nix-env'];

/** Why this machine cannot run lab tests, or undefined when it can. */
function findLabBlocker(): string | undefined {
  if (process.getuid?.() !== 0) return 'lab tests need root (namespaces, bind mounts)';
  const missing = requiredTools.filter((t) => !findExecutable(t));
  if (missing.length > 0) return `lab tests need ${missing.join(', ')} (apt-get install nix-bin openssh-server)`;
  const probe = execaSync('unshare', ['--mount', '--uts', '--fork', 'true'], { reject: false });
  if (probe.exitCode !== 0) return `unshare --mount --uts does not work here: ${probe.stderr.trim()}`;
  return undefined;
}

/**
 * The `skip` option for a lab suite: `describe('x', { skip: requireLabCapable() }, () => ...)`.
 * A machine that cannot host the lab skips locally, but fails in CI (CI=true): a skipped lab test there hides breakage.
 */
export function requireLabCapable(): string | false {
  return gate(findLabBlocker(), 'lab');
}

/** Skips locally with the reason; throws in CI, where a skipped lab test would hide breakage. */
function gate(blocker: string | undefined, what: string): string | false {
  if (blocker === undefined) return false;
  if (isCi(process.env)) throw new Error(`${what} tests cannot run in CI: ${blocker}`);
  return blocker;
}

type HookFn = () => unknown;
export interface HookScope {
  before(fn: HookFn): void;
  after(fn: HookFn): void;
}

/**
 * Something started in `before` and stopped in `after` (which node:test runs even when tests fail), read through a
 * getter that says so when `before` failed. scope: `{ before, after }` inside a describe, or a test context `t`.
 */
function useSuite<T>(scope: HookScope, what: string, start: () => Promise<T>, stop: (value: T) => Promise<unknown>): { readonly value: T } {
  let value: T | undefined;
  scope.before(async () => {
    value = await start();
  });
  scope.after(async () => {
    if (value !== undefined) await stop(value);
  });
  return {
    get value(): T {
      if (value === undefined) throw new Error(`the ${what} is not running (its before hook failed or has not run)`);
      return value;
    },
  };
}

/** One lab for a whole suite, removed after it (FLEET_LAB_KEEP=1 keeps the files). */
function useSuiteLab<L extends Lab | SystemdLab>(scope: HookScope, what: string, start: () => Promise<L>): { readonly lab: L } {
  const suite = useSuite(scope, what, start, downAndMaybeKeep);
  return {
    get lab(): L {
      return suite.value;
    },
  };
}

export function useLab(scope: HookScope, names: string[], opts: Omit<StartLabOptions, 'names'> = {}): { readonly lab: Lab } {
  return useSuiteLab(scope, 'lab', () => startLab({ names, ...opts }));
}

export interface DeployedLab {
  lab: Lab;
  hive: string; // the hive the default fleet file evaluates; tests rewrite it (configure)
  fleetFile: string;
}

/** A light lab whose hosts all run one base system (`baseName`, plus `extra`: packages...), deployed by fleet itself: where most lab suites start. */
export async function startDeployedLab(names: string[], baseName: string, extra: Omit<StandInSpec, 'name'> = {}): Promise<DeployedLab> {
  const lab = await startLab({ names });
  try {
    const hive = `${lab.dir}/hive.nix`;
    const fleetFile = await lab.writeFleet({ nixFile: hive });
    await writeHive(hive, Object.fromEntries(names.map((n) => [n, { ...extra, name: baseName }])), lab.witness);
    const base = await runFleet(['-f', fleetFile, 'apply', '--json']);
    if (base.code !== 0) throw new Error(`the base deploy failed (exit ${base.code}): ${base.stderr || base.stdout.slice(-4000)}`); // --json: the events say why
    return { lab, hive, fleetFile };
  } catch (error) {
    await downAndMaybeKeep(lab); // no suite holds it yet: stop it here
    throw error;
  }
}

/** startDeployedLab for a whole suite: up in `before`, down in `after`. */
export function useDeployedLab(scope: HookScope, names: string[], baseName: string, extra: Omit<StandInSpec, 'name'> = {}): Readonly<DeployedLab> {
  const suite = useSuite(scope, 'lab', () => startDeployedLab(names, baseName, extra), (d) => downAndMaybeKeep(d.lab));
  return {
    get lab() {
      return suite.value.lab;
    },
    get hive() {
      return suite.value.hive;
    },
    get fleetFile() {
      return suite.value.fleetFile;
    },
  };
}

/** Writes the stand-in systems of a hive and returns every node's out path (evaluated, nothing built). */
export async function configureHive(lab: Pick<Lab | SystemdLab, 'witness'>, hive: string, specs: Record<string, StandInSpec>): Promise<Record<string, string>> {
  await writeHive(hive, specs, lab.witness);
  return evalOutPaths(hive);
}

const systemdTools = ['systemd-nspawn', 'ip', 'tc', 'flock', 'sysctl', 'chroot'];

/** Why this machine cannot run systemd lab hosts, or undefined when it can. */
function findSystemdLabBlocker(): string | undefined {
  const light = findLabBlocker();
  if (light) return light;
  const missing = systemdTools.filter((t) => !findExecutable(t));
  const { base, layer } = rootfsPaths();
  if (!(existsSync(base) && existsSync(layer)) && !findExecutable('debootstrap')) missing.push('debootstrap');
  if (missing.length > 0) return `systemd lab tests need ${missing.join(', ')} (bash scripts/setup.sh installs them)`;
  const v2 = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
  const [major = 0, minor = 0] = release().split('.').map(Number);
  if (!existsSync(`${v2}/cgroup.procs`) || major * 1000 + minor < 5014) return `systemd lab tests need cgroup v2 with cgroup.kill (Linux >= 5.14) at ${v2}`;
  if (!/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) return 'systemd lab tests need overlayfs';
  return undefined;
}

/** requireLabCapable for systemd hosts: skips locally with the reason, fails in CI. */
export function requireSystemdLabCapable(): string | false {
  return gate(findSystemdLabBlocker(), 'systemd lab');
}

/** One systemd lab for a whole suite (starting one per test would multiply boot time): up in `before`, down in `after`. */
export function useSystemdLab(scope: HookScope, opts: SystemdLabOptions): { readonly lab: SystemdLab } {
  return useSuiteLab(scope, 'systemd lab', async () => {
    const lab = await up({ kind: 'systemd', ...opts });
    const t = lab.timings;
    console.error(`# systemd lab of ${lab.hosts.length} hosts up in ${t.upMs} ms (root fs ${t.rootfsBuilt ? `built in ${t.rootfsMs} ms` : 'cached'})`);
    return lab;
  });
}

/** The agent client of a lab host, its commands run as root on the host itself (not over SSH): for tests that
 *  act as another run would (take a lock, arm a watchdog) or look at what a run left. */
export function labAgent(lab: Pick<Lab | SystemdLab, 'exec'>, host: string, run: { id?: string; lock?: LockIdentity } = {}, extra: Partial<ResolvedNode> = {}): AgentClient {
  const exec = async (argv: string[]): Promise<CommandResult> => {
    const r = await lab.exec(host, argv);
    return { argv, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, failed: r.exitCode !== 0, timedOut: false, canceled: false, message: r.exitCode !== 0 ? `exit ${r.exitCode}` : '' };
  };
  const on: Host = { label: host, isLocal: false, run: exec, runFresh: exec, connect: async () => {}, close: async () => {}, closeSync: () => {} };
  return createAgentClient(createTarget({ node: resolvedNode(host, { host, ...extra }), host: on, run: runLocal, directSshOpts: [] }), run);
}
