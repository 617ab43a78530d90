// One machine, checked read-only: ssh's own configuration for it (`ssh -G`), its name and port (a TCP connection
// of its own), the SSH connection fleet uses (one handshake: host key and login), and one session running the
// doctor script. A host key ssh does not know is read with ssh-keyscan, and the login is tried with it trusted for
// that one `true`: nothing else runs on a machine whose key is not known.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_CALL_MS } from '../agent/client.js';
import type { CopyTarget, Host } from '../transport/host.js';
import { failureReason, type RunCommand } from '../transport/run.js';
import { authCheck, hostKeyCheck, reachCheck, resolveCheck, rttCheck, sessionCheck, type Connected } from './checks-connection.js';
import { nixPathCheck, nixVersionCheck, storeCheck, trustedCheck } from './checks-nix.js';
import { activationCheck, clockCheck, diskCheck, lockCheck, runDirsCheck, sudoCheck, toolsCheck, type ClockWindow } from './checks-target.js';
import { doctorArgv, parseGathered, type Gathered } from './script.js';
import { classifyConnectFailure, knownHostsLine, parseSshG, pickScannedKey, type EffectiveSsh, type HostKey } from './ssh-facts.js';
import { isAddress, reachPort, resolveName, type Reached, type Resolved } from './tcp.js';
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
  const target = x.host.copyTarget;
  if (!target) throw new Error(`doctor: ${x.name} is the local machine`);
  const config = await ctx.run(['ssh', '-G', ...target.sshOpts, target.dest], { timeoutMs: 10_000, signal: ctx.signal });
  const ssh = config.failed ? undefined : parseSshG(config.stdout);
  if (!ssh) {
    const why = fail('resolve', `ssh cannot read its configuration for ${x.name}: ${failureReason(config)}`,
      'fix the ssh options or ssh config fleet uses for it (sshOptions, sshConfig, NIX_SSHOPTS): `ssh -G` must accept them');
    return { checks: completeChecks(x.role, [why], 'ssh cannot be configured for it') };
  }

  const { resolved, reached } = await findWay(ssh, x.connectTimeoutMs);
  const checks = [resolveCheck(hostOfDest(target.dest), ssh, resolved), reachCheck(ssh, reached)];
  if (resolved && !resolved.ok) return { checks: completeChecks(x.role, checks, 'the name does not resolve') };
  if (reached && !reached.ok) return { checks: completeChecks(x.role, checks, 'the machine did not answer') };

  const login = await logIn(x, ctx, ssh, target);
  if (ctx.signal.aborted) return { checks: completeChecks(x.role, checks, 'interrupted') };
  const session = login.connected.ok ? await gather(x, ctx) : undefined;
  checks.push(
    rttCheck(reached, session && session.window.afterMs - session.window.beforeMs),
    hostKeyCheck({ name: x.name, ssh, connected: login.connected, ...(login.scanned ? { scanned: login.scanned } : {}), ...(x.pinnedBy ? { pinned: { builder: x.pinnedBy } } : {}) }),
    authCheck({ name: x.name, ssh, connected: login.connected, ...(login.probe ? { probe: login.probe } : {}) }),
  );
  if (!login.connected.ok) {
    const kind = login.connected.kind;
    return { checks: completeChecks(x.role, checks, kind === 'host-key-unknown' || kind === 'host-key-changed' ? 'not asked: the host key is not known' : `no session: ${login.connected.message}`) };
  }
  checks.push(sessionCheck(x.name, ssh, session?.gathered, session?.failure));
  const g = session?.gathered;
  if (!session || !g?.complete) return { checks: completeChecks(x.role, checks, 'the session did not run the checks') };
  checks.push(...machineChecks(x, g, await ctx.deployerVersion, ctx.passwordGiven, session.window));
  return { checks: completeChecks(x.role, checks, 'not asked'), gathered: g };
}

/** What the machine's answers say of Nix on it, and for a node of everything a deploy needs there. */
function machineChecks(x: Examination, g: Gathered, deployerVersion: string | undefined, passwordGiven: boolean, window: ClockWindow): CheckResult[] {
  const checks = [nixPathCheck(x.name, g), nixVersionCheck(x.role, g, deployerVersion), storeCheck(x.name, g), trustedCheck(x.name, x.role, g), diskCheck(x.name, 'nix', g.disk.nix, x.role === 'builder')];
  if (!x.node) return checks;
  return [
    ...checks,
    sudoCheck({ name: x.name, user: x.node.user, escalation: x.node.escalationText, passwordGiven }, g),
    activationCheck(x.name, g), toolsCheck(x.name, g), diskCheck(x.name, 'run', g.disk.run),
    clockCheck(x.name, g, window), lockCheck(x.name, x.node.lockFile, g), runDirsCheck(x.name, g),
  ];
}

/** `user@host` → `host` (what the fleet file named). */
function hostOfDest(dest: string): string {
  return dest.replace(/^[^@]*@/, '');
}

/** The name's addresses and the first that answers on the SSH port; through a proxy, neither (ssh's to find). */
async function findWay(ssh: EffectiveSsh, timeoutMs: number): Promise<{ resolved?: Resolved; reached?: Reached }> {
  if (ssh.proxy) return {};
  const resolved: Resolved = isAddress(ssh.hostname) ? { ok: true, addresses: [ssh.hostname] } : await resolveName(ssh.hostname, ssh.addressFamily);
  if (!resolved.ok) return { resolved };
  // ssh tries a name's addresses in order: so does doctor, up to the first that answers.
  let reached: Reached | undefined;
  for (const address of resolved.addresses.slice(0, 3)) {
    reached = await reachPort(address, ssh.port, timeoutMs);
    if (reached.ok) break;
  }
  return { resolved, ...(reached ? { reached } : {}) };
}

/** The connection fleet uses (its master: host key and login in one handshake); a key ssh does not know is scanned,
 *  and the login tried with it trusted. */
async function logIn(x: Examination, ctx: ExamineContext, ssh: EffectiveSsh, target: CopyTarget): Promise<{ connected: Connected; scanned?: HostKey; probe?: { ok: boolean; message: string } }> {
  const connected = await connect(x.host);
  if (connected.ok || (connected.kind !== 'host-key-unknown' && connected.kind !== 'host-key-changed') || ssh.proxy) return { connected };
  const scanned = await scanHostKey(ctx, ssh, Math.max(1, Math.ceil(x.connectTimeoutMs / 1000)));
  if (!scanned) return { connected };
  // A changed key may be someone in the middle, and a pinned builder's key is fleet's to check: no login then.
  if (connected.kind === 'host-key-changed' || x.pinnedBy) return { connected, scanned };
  return { connected, scanned, probe: await loginWithKey(ctx, x, ssh, scanned, target) };
}

/** The one session: the doctor script, timed (the clock's window). */
async function gather(x: Examination, ctx: ExamineContext): Promise<{ gathered?: Gathered; failure?: string; window: ClockWindow }> {
  const beforeMs = Date.now();
  const r = await x.host.run(doctorArgv(x.node?.lockFile ?? '', x.node?.escalation), {
    timeoutMs: x.connectTimeoutMs + AGENT_CALL_MS,
    signal: ctx.signal,
    ...(x.node?.input !== undefined ? { input: x.node.input } : {}),
  });
  const window = { beforeMs, afterMs: Date.now() };
  return r.failed ? { failure: failureReason(r), window } : { gathered: parseGathered(r.stdout), window };
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
async function loginWithKey(ctx: ExamineContext, x: Examination, ssh: EffectiveSsh, key: HostKey, target: CopyTarget): Promise<{ ok: boolean; message: string }> {
  const file = join(ctx.privateDir, `doctor-known-${x.role}-${x.name.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  await writeFile(file, `${knownHostsLine(ssh, key)}\n`);
  // ssh keeps the first value of each -o option: these go before fleet's own.
  const pinned = ['-o', `UserKnownHostsFile=${file}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'ForwardAgent=no', '-o', 'ClearAllForwardings=yes', '-o', 'ControlMaster=no'];
  const r = await ctx.run(['ssh', ...pinned, ...target.sshOpts, target.dest, 'true'], { timeoutMs: x.connectTimeoutMs + 10_000, signal: ctx.signal });
  const said = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Control socket connect|^Warning: Permanently added/.test(l));
  return { ok: !r.failed, message: said.slice(-2).join('; ') || failureReason(r) };
}
