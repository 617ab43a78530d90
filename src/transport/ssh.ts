// An SSH Host: one multiplexed master per host while its work runs (the pool closes idle ones); commands and copies ride it.
import { rmSync } from 'node:fs';
import { execaSync } from 'execa';
import type { Host } from './host.js';
import { startMaster, type Master } from './master.js';
import { boundedArgv } from './deadline.js';
import { quoteArgv } from './quote.js';
import { runLocal, type RunCommand, type RunOptions } from './run.js';

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
  /** Cancels connecting (Ctrl+C); a master already up is not touched. */
  signal?: AbortSignal;
  /** A new connection was made in `ms` (a master's start, a lone question's whole round trip). */
  onConnected?: (ms: number) => void;
}

/** How an ssh invocation uses the host's master: rides it, is it, or bypasses it with a connection of its own. */
export type MuxRole = { role: 'client' | 'master'; controlPath: string } | { role: 'fresh' };

/**
 * Options for every ssh invocation for this endpoint, fleet's or Nix's (NIX_SSHOPTS); without mux, no
 * multiplexing options at all (a build host's own ssh to a target).
 */
export function buildSshOptions(endpoint: SshEndpoint, mux?: MuxRole): string[] {
  // ssh keeps the FIRST value of each -o option: what fleet must enforce goes before anything a user supplies
  // (NIX_SSHOPTS="-o StrictHostKeyChecking=no" must not defeat a pinned key; -o also beats any -F config).
  const enforced: string[] = [];
  if (endpoint.knownHostsFile) {
    enforced.push('-o', `UserKnownHostsFile=${endpoint.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null');
    enforced.push('-o', 'StrictHostKeyChecking=yes', '-o', 'VerifyHostKeyDNS=no');
  }
  if (mux) enforced.push('-o', `ControlMaster=${mux.role === 'master' ? 'yes' : 'no'}`);
  // A user's ControlPersist would fork the master into the background, out of reach of fleet's watchdog.
  if (mux?.role === 'master') enforced.push('-o', 'ControlPersist=no');
  const user = [...(endpoint.sshConfig ? ['-F', endpoint.sshConfig] : []), ...endpoint.sshOptions];
  const port = endpoint.port !== undefined ? ['-p', String(endpoint.port)] : [];
  // Defaults after the user's options, so theirs win; BatchMode: a password prompt must never hang a deploy.
  const seconds = Math.max(1, Math.ceil(endpoint.connectTimeoutMs / 1000));
  const defaults = ['-o', 'BatchMode=yes', '-o', `ConnectTimeout=${seconds}`, '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'];
  // -S is assigned, not first-wins: last, it beats a ControlPath from the user's options or ssh config.
  const socket = mux ? ['-S', mux.role === 'fresh' ? 'none' : mux.controlPath] : [];
  return [...enforced, ...user, ...port, ...defaults, ...socket];
}

/** The remote shell's command line: argv quoted, under the target's own deadline when the command has a limit. */
export function remoteCommand(argv: readonly string[], timeoutMs: number | undefined): string {
  return quoteArgv(boundedArgv(argv, timeoutMs));
}

export function formatDestination(endpoint: Pick<SshEndpoint, 'user' | 'host'>): string {
  return endpoint.user ? `${endpoint.user}@${endpoint.host}` : endpoint.host;
}

export function createSshHost(endpoint: SshEndpoint, options: SshHostOptions): Host {
  const run = options.run ?? runLocal;
  const dest = formatDestination(endpoint);
  const clientOptions = buildSshOptions(endpoint, { role: 'client', controlPath: options.controlPath });
  const exitArgs = [...clientOptions, '-O', 'exit', dest];
  let connecting: Promise<void> | undefined; // the first connect: its failure is final within a run
  let opening: Promise<void> | undefined;
  let master: Master | undefined;
  let failed = false; // the first connect ended without a master
  let closing: Promise<void> | undefined; // closeMaster in progress: a new master waits for the old one to be gone

  // One master start at a time. A dead master's socket is removed first, else the new master would find it and not listen.
  const open = () => (opening ??= (async () => {
    await closing; // the old master answers `-O exit` on the same socket path: it must be gone first
    rmSync(options.controlPath, { force: true });
    const since = Date.now();
    const started = await startMaster({
      sshArgs: [...buildSshOptions(endpoint, { role: 'master', controlPath: options.controlPath }), '-N', dest],
      controlPath: options.controlPath,
      timeoutMs: endpoint.connectTimeoutMs + 5000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!started.ok) throw new SshConnectError(endpoint, started.reason, started.detail);
    options.onConnected?.(Date.now() - since);
    master = started.master;
  })().finally(() => {
    opening = undefined;
  }));
  const connect = () => (connecting ??= open().catch((error: unknown) => {
    failed = true;
    throw error;
  }));

  const direct = (argv: string[], runOptions?: RunOptions) => run(['ssh', ...buildSshOptions(endpoint, { role: 'fresh' }), dest, remoteCommand(argv, runOptions?.timeoutMs)], runOptions);
  const close = async () => {
    await connecting?.catch(() => {});
    await opening?.catch(() => {});
    const m = master;
    if (!m || m.dead) return;
    master = undefined;
    await run(['ssh', ...exitArgs], { timeoutMs: 5000 });
    const gone = await Promise.race([m.exited.then(() => true), new Promise<boolean>((r) => setTimeout(r, 5000, false))]);
    if (!gone) m.kill();
  };

  return {
    label: endpoint.label,
    isLocal: false,
    copyTarget: { dest, sshOpts: clientOptions },
    connect,
    run: async (argv, runOptions) => {
      // A lone question goes directly when no master is up or wanted: one process, no master left behind.
      if (runOptions?.withoutMaster && !connecting) {
        const since = Date.now();
        const r = await direct(argv, runOptions);
        if (r.exitCode !== 255 && !r.timedOut && !r.canceled) options.onConnected?.(Date.now() - since);
        return r;
      }
      await connect();
      // A master that died after it was up (a cut, a reboot) is opened again. Not awaited: meanwhile commands go
      // directly, as ssh does without a socket, and say why they fail in ssh's words; once it is up they ride it.
      if (master?.dead) open().catch(() => undefined);
      return run(['ssh', ...clientOptions, dest, remoteCommand(argv, runOptions?.timeoutMs)], runOptions);
    },
    runFresh: direct,
    close,
    closeMaster: () => (closing ??= (async () => {
      // At once, before the master is gone: lone questions meanwhile go directly (not over a master being closed),
      // and the next command that needs a master opens a new one (its failure then is that command's).
      const was = connecting;
      connecting = undefined;
      failed = false;
      await was?.catch(() => {});
      await close();
    })().finally(() => {
      closing = undefined;
    })),
    get hasMaster() {
      return connecting !== undefined && !failed && !master?.dead;
    },
    forgetFailure() {
      // The next connect() opens a master again and reports its failure: a failed connect, or a master that died.
      if (!failed && !master?.dead) return;
      failed = false;
      connecting = undefined;
    },
    closeSync: () => {
      const m = master;
      if (!m || m.dead) return;
      master = undefined;
      execaSync('ssh', exitArgs, { reject: false, timeout: 5000, stdio: 'ignore' });
      m.kill(); // the process is exiting: nothing of the master may stay behind
    },
  };
}

/** A host could not be reached: says who, how, and why (ssh's own words, a timeout, or an interrupt). */
export class SshConnectError extends Error {
  readonly reason: 'failed' | 'timed-out' | 'canceled';
  constructor(endpoint: SshEndpoint, reason: 'failed' | 'timed-out' | 'canceled', detail: string) {
    const where = `${formatDestination(endpoint)}${endpoint.port ? ` port ${endpoint.port}` : ''}`;
    const why = reason === 'timed-out' ? 'timed out' : reason === 'canceled' ? 'canceled: interrupted while connecting' : detail;
    super(`cannot connect to ${endpoint.label} (${where}): ${why}`);
    this.name = 'SshConnectError';
    this.reason = reason;
  }
}
