// One machine, checked read-only: ssh's own configuration for it (`ssh -G`), its name and port (a TCP connection
// of its own), the SSH connection fleet uses (one handshake: host key and login), and one session running the
// doctor script. A host key ssh does not know is read with ssh-keyscan, and the login is tried with it trusted for
// that one `true`: nothing else runs on a machine whose key is not known.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_CALL_MS } from '../agent/run.js';
import type { Host } from '../transport/host.js';
import { failureReason, type RunCommand } from '../transport/run.js';
import { authCheck, hostKeyCheck, reachCheck, resolveCheck, rttCheck, sessionCheck, type Connected } from './checks-connection.js';
import { nixPathCheck, nixVersionCheck, storeCheck, trustedCheck } from './checks-nix.js';
import { activationCheck, clockCheck, diskCheck, lockCheck, runDirsCheck, sudoCheck, toolsCheck } from './checks-target.js';
import { doctorArgv, parseGathered, type Gathered } from './script.js';
import { classifyConnectFailure, knownHostsLine, parseSshG, pickScannedKey, type EffectiveSsh, type HostKey } from './ssh-facts.js';
import { reachPort, resolveName, type Reached, type Resolved } from './tcp.js';
import { fail, skip, type CheckName, type CheckResult, type DoctorRole } from './types.js';

/** What a remote machine is asked for: as a node, its lock and privilege escalation too. */
export interface Examination {
  name: string;
  role: Exclude<DoctorRole, 'deployer'>;
  host: Host;
  connectTimeoutMs: number;
  /** Builders with publicHostKey: fleet pins that key. */
  pinnedBy?: string;
  node?: {
    user: string;
    lockFile: string;
    /** The argv that should run `true` as root without asking; undefined when the SSH user is root. */
    escalation?: string[];
    /** What the person sees of it: the node's privilegeEscalation. */
    escalationText: readonly string[];
    /** A sudo password for the escalation's stdin. */
    input?: string;
  };
}

export interface ExamineContext {
  run: RunCommand;
  /** A private directory (mode 700) for the one-check known_hosts file. */
  privateDir: string;
  signal: AbortSignal;
  deployerVersion: Promise<string | undefined>;
  passwordGiven: boolean;
}

export interface Examined {
  checks: CheckResult[];
  gathered?: Gathered;
}

/** The checks each remote role gets, in order (systems and features of builders are added with the nodes' answers). */
export const ROLE_CHECKS: Record<Exclude<DoctorRole, 'deployer'>, readonly CheckName[]> = {
  node: ['resolve', 'reach', 'rtt', 'host-key', 'auth', 'session', 'nix-path', 'nix-version', 'store', 'trusted', 'sudo', 'activation', 'tools', 'disk-nix', 'disk-run', 'clock', 'lock', 'run-dirs'],
  builder: ['resolve', 'reach', 'rtt', 'host-key', 'auth', 'session', 'nix-path', 'nix-version', 'store', 'trusted', 'disk-nix'],
};

/** The checks not reached, as skipped for one reason, in the role's order. */
export function completeChecks(role: Exclude<DoctorRole, 'deployer'>, checks: CheckResult[], why: string): CheckResult[] {
  const done = new Map(checks.map((c) => [c.check, c]));
  return ROLE_CHECKS[role].map((name) => done.get(name) ?? skip(name, why));
}

export async function examineHost(x: Examination, ctx: ExamineContext): Promise<Examined> {
  const { host } = x;
  const target = host.copyTarget;
  if (!target) throw new Error(`doctor: ${x.name} is the local machine`);
  const seconds = Math.max(1, Math.ceil(x.connectTimeoutMs / 1000));
  const config = await ctx.run(['ssh', '-G', ...target.sshOpts, target.dest], { timeoutMs: 10_000, signal: ctx.signal });
  const ssh = config.failed ? undefined : parseSshG(config.stdout);
  if (!ssh) {
    const why = fail('resolve', `ssh cannot read its configuration for ${x.name}: ${failureReason(config)}`,
      'fix the ssh options or ssh config fleet uses for it (sshOptions, sshConfig, NIX_SSHOPTS): `ssh -G` must accept them');
    return { checks: completeChecks(x.role, [why], 'ssh cannot be configured for it') };
  }

  const checks: CheckResult[] = [];
  let resolved: Resolved | undefined;
  let reached: Reached | undefined;
  if (!ssh.proxy) {
    resolved = isAddress(ssh.hostname) ? { ok: true, addresses: [ssh.hostname] } : await resolveName(ssh.hostname, ssh.addressFamily);
    if (resolved.ok) reached = await reachFirst(resolved.addresses, ssh.port, x.connectTimeoutMs);
  }
  checks.push(resolveCheck(hostOfDest(target.dest), ssh, resolved), reachCheck(ssh, reached));
  if (reached && !reached.ok) return { checks: completeChecks(x.role, checks, 'the machine did not answer') };
  if (resolved && !resolved.ok) return { checks: completeChecks(x.role, checks, 'the name does not resolve') };

  const connected = await connect(host);
  if (ctx.signal.aborted) return { checks: completeChecks(x.role, checks, 'interrupted') };
  let scanned: HostKey | undefined;
  let probe: { ok: boolean; message: string } | undefined;
  if (!connected.ok && (connected.kind === 'host-key-unknown' || connected.kind === 'host-key-changed') && !ssh.proxy) {
    scanned = await scanHostKey(ctx, ssh, seconds);
    if (scanned && connected.kind === 'host-key-unknown' && !x.pinnedBy) probe = await loginWithKey(ctx, x, ssh, scanned, target);
  }

  let gathered: Gathered | undefined;
  let failure: string | undefined;
  let sessionMs: number | undefined;
  let window: { beforeMs: number; afterMs: number } | undefined;
  if (connected.ok) {
    const beforeMs = Date.now();
    const r = await host.run(doctorArgv(x.node?.lockFile ?? '', x.node?.escalation), {
      timeoutMs: x.connectTimeoutMs + AGENT_CALL_MS,
      signal: ctx.signal,
      ...(x.node?.input !== undefined ? { input: x.node.input } : {}),
    });
    const afterMs = Date.now();
    window = { beforeMs, afterMs };
    sessionMs = afterMs - beforeMs;
    if (r.failed) failure = failureReason(r);
    else gathered = parseGathered(r.stdout);
  }

  checks.push(
    rttCheck(reached, sessionMs),
    hostKeyCheck({ name: x.name, ssh, connected, ...(scanned ? { scanned } : {}), ...(x.pinnedBy ? { pinned: { builder: x.pinnedBy } } : {}) }),
    authCheck({ name: x.name, ssh, connected, ...(probe ? { probe } : {}) }),
  );
  if (!connected.ok) {
    const why = connected.kind === 'host-key-unknown' || connected.kind === 'host-key-changed' ? 'not asked: the host key is not known' : `no session: ${connected.message}`;
    return { checks: completeChecks(x.role, checks, why) };
  }
  checks.push(sessionCheck(x.name, ssh, gathered, failure));
  if (!gathered?.complete) return { checks: completeChecks(x.role, checks, 'the session did not run the checks') };

  const version = await ctx.deployerVersion;
  const g = gathered;
  checks.push(nixPathCheck(x.name, g), nixVersionCheck(x.role, g, version), storeCheck(x.name, g), trustedCheck(x.name, x.role, g), diskCheck(x.name, 'nix', g.disk.nix, x.role === 'builder'));
  if (x.node && window) {
    checks.push(
      sudoCheck({ name: x.name, user: x.node.user, escalation: x.node.escalationText, passwordGiven: ctx.passwordGiven }, g),
      activationCheck(x.name, g), toolsCheck(x.name, g), diskCheck(x.name, 'run', g.disk.run),
      clockCheck(x.name, g, window), lockCheck(x.name, x.node.lockFile, g), runDirsCheck(x.name, g),
    );
  }
  return { checks: completeChecks(x.role, checks, 'not asked'), gathered: g };
}

const isAddress = (host: string) => /^[\d.]+$/.test(host) || host.includes(':');

/** `user@host` → `host` (what the fleet file named). */
function hostOfDest(dest: string): string {
  return dest.replace(/^[^@]*@/, '');
}

/** ssh tries a name's addresses in order: so does doctor, up to the first that answers. */
async function reachFirst(addresses: readonly string[], port: number, timeoutMs: number): Promise<Reached> {
  let last: Reached | undefined;
  for (const address of addresses.slice(0, 3)) {
    last = await reachPort(address, port, timeoutMs);
    if (last.ok) return last;
  }
  return last!;
}

async function connect(host: Host): Promise<Connected> {
  try {
    await host.connect();
    return { ok: true };
  } catch (error) {
    // SshConnectError: `cannot connect to NAME (WHERE): <ssh's words>`; the check shows ssh's words.
    const message = (error as Error).message.replace(/^cannot connect to .*? \(.*?\): /, '');
    return { ok: false, kind: classifyConnectFailure(message), message };
  }
}

async function scanHostKey(ctx: ExamineContext, ssh: EffectiveSsh, seconds: number): Promise<HostKey | undefined> {
  const family = ssh.addressFamily === 4 ? ['-4'] : ssh.addressFamily === 6 ? ['-6'] : [];
  const r = await ctx.run(['ssh-keyscan', '-T', String(seconds), '-p', String(ssh.port), ...family, ssh.hostname], { timeoutMs: seconds * 1000 + 5000, signal: ctx.signal });
  return pickScannedKey(r.stdout);
}

/** The login alone, with the scanned key trusted for it: no agent or port forwarding, nothing run but `true`. */
async function loginWithKey(ctx: ExamineContext, x: Examination, ssh: EffectiveSsh, key: HostKey, target: { dest: string; sshOpts: string[] }): Promise<{ ok: boolean; message: string }> {
  const file = join(ctx.privateDir, `doctor-known-${x.role}-${x.name.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  await writeFile(file, `${knownHostsLine(ssh, key)}\n`);
  // ssh keeps the first value of each -o option: these go before fleet's own.
  const pinned = ['-o', `UserKnownHostsFile=${file}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'ForwardAgent=no', '-o', 'ClearAllForwardings=yes', '-o', 'ControlMaster=no'];
  const r = await ctx.run(['ssh', ...pinned, ...target.sshOpts, target.dest, 'true'], { timeoutMs: x.connectTimeoutMs + 10_000, signal: ctx.signal });
  const said = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Control socket connect|^Warning: Permanently added/.test(l));
  return { ok: !r.failed, message: said.slice(-2).join('; ') || failureReason(r) };
}
