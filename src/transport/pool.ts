// One Host per machine for the whole run; masters live in a private, short runtime dir. A master is up only while a
// node's work needs it (use), plus a few idle ones kept for a stage that may be near: processes, memory and file
// descriptors follow the work in flight, not the fleet's size.
import pLimit from 'p-limit';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Builder, HostSpec, ResolvedNode } from '../config/types.js';
import type { Host } from './host.js';
import { createLocalHost } from './local.js';
import { runLocal, type RunCommand } from './run.js';
import { buildSshOptions, createSshHost, type SshEndpoint } from './ssh.js';
import { createTarget, type Target } from './target.js';
import { DEFAULT_KEEP_IDLE, DEFAULT_PROBE_PARALLEL, type ConnectionLimits } from './limits.js';

export { DEFAULT_KEEP_IDLE, DEFAULT_PROBE_PARALLEL, type ConnectionLimits };

export interface HostPool {
  local: Host;
  /** fleet's private runtime dir (mode 700, removed at closeAll): control sockets, pinned keys, generated configs. */
  readonly privateDir: string;
  forNode(node: ResolvedNode): Host;
  /** The node as deploy steps reach it (its escalation, the run's sudo password): one per node for the run. */
  targetOf(node: ResolvedNode): Target;
  forBuilder(builder: Builder): Host;
  forSpec(spec: HostSpec, template: ResolvedNode): Host;
  endpointOf(node: ResolvedNode): SshEndpoint;
  /** Every host whose connect failed or whose master died connects again on its next command. */
  forgetFailures(): void;
  readonly limits: ConnectionLimits;
  /** One slot of the run's probes (`limits.probes` at once, whichever call asks): parts probed side by side share it. */
  probeSlot?<T>(work: () => Promise<T>): Promise<T>;
  /** Whether `count` nodes' masters would all be kept between their stages: else lone questions go directly. */
  keepsMasters(count: number): boolean;
  /** The quickest new connection to a target so far in this run (a master's start, a direct probe), in ms. */
  bestConnectMs(): number | undefined;
  /** One stage of the node's work: its master is held while `work` runs; kept idle after while fewer than
   *  `limits.keepIdle` are, else closed. */
  use<T>(node: ResolvedNode, work: () => Promise<T>): Promise<T>;
  /** The node's work in this run is done: its master is closed now (in the background; closeAll waits for it). */
  done(node: ResolvedNode): void;
  closeAll(): Promise<void>;
}

/** The run's probe slots (a pool without its own, a test's fake: a bound of `limits.probes` for this caller alone). */
export function probeSlots(pool: Pick<HostPool, 'probeSlot' | 'limits'>): <T>(work: () => Promise<T>) => Promise<T> {
  if (pool.probeSlot) return (work) => pool.probeSlot!(work);
  const own = pLimit(pool.limits.probes);
  return (work) => own(work);
}

/** NIX_SSHOPTS as Nix reads it (whitespace-separated), so fleet's own ssh sees the same options. */
export function readNixSshOpts(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.NIX_SSHOPTS ?? '').split(/\s+/).filter(Boolean);
}

export function nodeEndpoint(node: ResolvedNode, nixSshOpts: string[]): SshEndpoint {
  return {
    label: node.name,
    host: node.host,
    user: node.user,
    port: node.port,
    sshConfig: node.sshConfig,
    sshOptions: [...nixSshOpts, ...node.sshOptions],
    connectTimeoutMs: node.connectTimeoutMs,
  };
}

export interface HostPoolOptions {
  limits?: Partial<ConnectionLimits>;
  run?: RunCommand;
  env?: NodeJS.ProcessEnv; // for NIX_SSHOPTS
  /** Ctrl+C: cancels every connect in progress and refuses new ones; masters already up stay until closeAll. */
  signal?: AbortSignal;
  /** Given once (--ask-sudo-password, FLEET_SUDO_PASSWORD_FILE): the targets send it on a command's stdin only. */
  sudoPassword?: string;
}

export function createHostPool(options: HostPoolOptions = {}): HostPool {
  // /tmp, not os.tmpdir(): a long TMPDIR would push socket paths past the 108-byte limit.
  const dir = mkdtempSync('/tmp/fleet-');
  const nixSshOpts = readNixSshOpts(options.env);
  const hosts = new Map<string, Host>();
  const targets = new Map<string, Target>();
  const local = createLocalHost(options.run);
  const limits: ConnectionLimits = { probes: options.limits?.probes ?? DEFAULT_PROBE_PARALLEL, keepIdle: options.limits?.keepIdle ?? DEFAULT_KEEP_IDLE };
  const probeSlots = pLimit(limits.probes);
  const inUse = new Map<Host, number>();
  const idle: Host[] = []; // masters up that no stage uses, kept for the node's next stage
  const closing = new Set<Promise<void>>();
  const closeMaster = (host: Host) => {
    const closed = (host.closeMaster?.() ?? Promise.resolve()).catch(() => undefined);
    closing.add(closed);
    void closed.finally(() => closing.delete(closed));
  };
  let bestConnect: number | undefined;
  const onConnected = (ms: number) => {
    bestConnect = bestConnect === undefined ? ms : Math.min(bestConnect, ms);
  };
  const unIdle = (host: Host) => {
    const at = idle.indexOf(host);
    if (at >= 0) idle.splice(at, 1);
  };
  // Any exit (a forced quit, a crash) still closes the masters: none outlives fleet for ControlPersist.
  const closeAllSync = () => {
    for (const host of hosts.values()) host.closeSync();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', closeAllSync);

  const obtain = (endpoint: SshEndpoint): Host => {
    const key = JSON.stringify([endpoint.user, endpoint.host, endpoint.port, endpoint.sshConfig, endpoint.sshOptions, endpoint.knownHostsFile]);
    let host = hosts.get(key);
    if (!host) {
      host = createSshHost(endpoint, { controlPath: join(dir, String(hosts.size)), run: options.run, signal: options.signal, onConnected });
      hosts.set(key, host);
    }
    return host;
  };

  const pinKey = (builder: Builder): string | undefined => {
    if (!builder.publicHostKey) return undefined;
    const file = join(dir, `known-${builder.name}`);
    const key = Buffer.from(builder.publicHostKey, 'base64').toString('utf8').trim();
    const name = builder.host.port ? `[${builder.host.host}]:${builder.host.port}` : builder.host.host;
    writeFileSync(file, `${name} ${key}\n`);
    return file;
  };

  const forNode = (node: ResolvedNode) => obtain(nodeEndpoint(node, nixSshOpts));
  return {
    privateDir: dir,
    local,
    limits,
    probeSlot: (work) => probeSlots(work),
    keepsMasters: (count) => count <= limits.keepIdle,
    bestConnectMs: () => bestConnect,
    use: async (node, work) => {
      const host = forNode(node);
      unIdle(host);
      inUse.set(host, (inUse.get(host) ?? 0) + 1);
      try {
        return await work();
      } finally {
        const left = inUse.get(host)! - 1;
        if (left > 0) inUse.set(host, left);
        else {
          inUse.delete(host);
          // Stages are queues (first come, first served): the master idle longest is the next one needed, so
          // when no room is left it is the newest idle master that goes.
          if (host.hasMaster) {
            if (idle.length < limits.keepIdle) idle.push(host);
            else closeMaster(host);
          }
        }
      }
    },
    done: (node) => {
      const host = forNode(node);
      if (inUse.has(host)) return;
      unIdle(host);
      if (host.hasMaster) closeMaster(host);
    },
    endpointOf: (node) => nodeEndpoint(node, nixSshOpts),
    forNode,
    targetOf: (node) => {
      let target = targets.get(node.name);
      if (!target) {
        const endpoint = nodeEndpoint(node, nixSshOpts);
        target = createTarget({
          node, host: obtain(endpoint), run: options.run ?? runLocal, directSshOpts: buildSshOptions(endpoint),
          ...(options.sudoPassword !== undefined ? { sudoPassword: options.sudoPassword } : {}),
        });
        targets.set(node.name, target);
      }
      return target;
    },
    forBuilder: (builder) =>
      obtain({
        label: builder.name,
        host: builder.host.host,
        user: builder.host.user,
        port: builder.host.port,
        ...(builder.sshConfig ? { sshConfig: builder.sshConfig } : {}),
        sshOptions: [...nixSshOpts, ...builder.sshOptions],
        connectTimeoutMs: builder.connectTimeoutMs,
        knownHostsFile: pinKey(builder),
      }),
    forSpec: (spec, template) =>
      obtain({ ...nodeEndpoint(template, nixSshOpts), label: spec.host, host: spec.host, user: spec.user ?? template.user, port: spec.port }),
    forgetFailures: () => {
      for (const host of hosts.values()) host.forgetFailure?.();
    },
    closeAll: async () => {
      process.removeListener('exit', closeAllSync);
      await Promise.allSettled([...closing, ...[...hosts.values()].map((h) => h.close())]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
