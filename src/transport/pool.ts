// One Host per machine for the whole run; masters live in a private, short runtime dir.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Builder, HostSpec, ResolvedNode } from '../config/types.js';
import type { Host } from './host.js';
import { createLocalHost } from './local.js';
import { runLocal, type RunCommand } from './run.js';
import { buildSshOptions, createSshHost, type SshEndpoint } from './ssh.js';
import { createTarget, type Target } from './target.js';

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
  closeAll(): Promise<void>;
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
      host = createSshHost(endpoint, { controlPath: join(dir, String(hosts.size)), run: options.run, signal: options.signal });
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

  return {
    privateDir: dir,
    local,
    endpointOf: (node) => nodeEndpoint(node, nixSshOpts),
    forNode: (node) => obtain(nodeEndpoint(node, nixSshOpts)),
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
      await Promise.allSettled([...hosts.values()].map((h) => h.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
