// An SSH Host: one multiplexed master per host for the whole run, every command and copy rides it.
import { execaSync } from 'execa';
import type { Host } from './host.js';
import { quoteArgv } from './quote.js';
import { runLocal, type CommandResult, type RunCommand } from './run.js';

export interface SshEndpoint {
  label: string;
  host: string; // IPv6 without brackets
  user?: string;
  port?: number;
  sshConfig?: string; // absolute path, passed as -F
  sshOptions: string[]; // from NIX_SSHOPTS then the fleet file, in that order
  connectTimeoutMs: number;
  /** Pins the host key (builders' publicHostKey): path of a known_hosts file holding it. */
  knownHostsFile?: string;
}

export interface SshHostOptions {
  controlPath: string; // short: unix sockets are limited to 108 bytes
  run?: RunCommand;
}

/** Options every ssh invocation for this endpoint gets, master or client, fleet's or Nix's. */
export function buildSshOptions(endpoint: SshEndpoint, controlPath?: string): string[] {
  const options: string[] = [];
  if (endpoint.sshConfig) options.push('-F', endpoint.sshConfig);
  options.push(...endpoint.sshOptions);
  if (endpoint.port !== undefined) options.push('-p', String(endpoint.port));
  if (endpoint.knownHostsFile) options.push('-o', `UserKnownHostsFile=${endpoint.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes');
  const seconds = Math.max(1, Math.ceil(endpoint.connectTimeoutMs / 1000));
  options.push('-o', `ConnectTimeout=${seconds}`, '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3');
  if (controlPath) options.push('-o', `ControlPath=${controlPath}`);
  return options;
}

export function formatDestination(endpoint: Pick<SshEndpoint, 'user' | 'host'>): string {
  return endpoint.user ? `${endpoint.user}@${endpoint.host}` : endpoint.host;
}

export function createSshHost(endpoint: SshEndpoint, options: SshHostOptions): Host {
  const run = options.run ?? runLocal;
  const dest = formatDestination(endpoint);
  const clientOptions = buildSshOptions(endpoint, options.controlPath);
  const exitArgs = [...clientOptions, '-O', 'exit', dest];
  let master: Promise<void> | undefined;
  let opened = false;

  const openMaster = async (): Promise<void> => {
    // -f -N with ControlPersist: ssh authenticates, then leaves a background master with stdio closed.
    const r = await run(['ssh', ...clientOptions, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=300', '-f', '-N', dest], {
      timeoutMs: endpoint.connectTimeoutMs + 5000,
    });
    if (r.failed) throw new SshConnectError(endpoint, r);
    opened = true;
  };

  return {
    label: endpoint.label,
    isLocal: false,
    copyTarget: { dest, sshOpts: [...clientOptions, '-o', 'ControlMaster=no'] },
    connect: () => (master ??= openMaster()),
    run: async (argv, runOptions) => {
      await (master ??= openMaster());
      return run(['ssh', ...clientOptions, '-o', 'ControlMaster=no', dest, quoteArgv(argv)], runOptions);
    },
    close: async () => {
      if (!opened) return;
      opened = false;
      await run(['ssh', ...exitArgs], { timeoutMs: 5000 });
    },
    closeSync: () => {
      if (!opened) return;
      opened = false;
      execaSync('ssh', exitArgs, { reject: false, timeout: 5000, stdio: 'ignore' });
    },
  };
}

/** A host could not be reached: says who, how, and ssh's own words. */
export class SshConnectError extends Error {
  readonly result: CommandResult;
  constructor(endpoint: SshEndpoint, result: CommandResult) {
    const where = `${formatDestination(endpoint)}${endpoint.port ? ` port ${endpoint.port}` : ''}`;
    const why = result.timedOut ? 'timed out' : result.stderr.trim().split('\n').slice(-3).join('; ') || result.message;
    super(`cannot connect to ${endpoint.label} (${where}): ${why}`);
    this.name = 'SshConnectError';
    this.result = result;
  }
}
