// Checks of the way in: the name resolves, the port answers, the round trip, the host key, a login without a
// prompt, a session that prints nothing of its own. Pure: facts in, results out.
import type { Gathered } from './script.js';
import { fingerprint, knownHostsLine, publicHostKeyValue, type EffectiveSsh, type HostKey } from './ssh-facts.js';
import { isAddress, type Reached, type Resolved } from './tcp.js';
import { fail, ok, skip, warn, type CheckResult } from './types.js';

/** A round trip above this slows copies: Nix 2.8 pays about one per copied store path. */
export const SLOW_RTT_MS = 150;

export function resolveCheck(host: string, ssh: EffectiveSsh, resolved: Resolved | undefined): CheckResult {
  if (ssh.proxy) return skip('resolve', `reached through ${ssh.proxy}: the SSH connection checks the way`);
  const via = ssh.hostname !== host ? ` (HostName of ${host} in the ssh config)` : '';
  if (isAddress(ssh.hostname)) return ok('resolve', `${ssh.hostname} is an address${via}`);
  if (!resolved) return skip('resolve', 'not asked');
  if (resolved.ok) return ok('resolve', `${ssh.hostname}${via} resolves to ${resolved.addresses.join(', ')}`);
  return fail('resolve', `${ssh.hostname}${via} does not resolve (${resolved.error})`,
    `give the node's host as an address, or make the name known where fleet runs (DNS, /etc/hosts, or HostName in the ssh config)`);
}

const REACH_FIXES: Record<string, string> = {
  ECONNREFUSED: 'nothing listens there: start sshd on it (systemctl start sshd), or set the port fleet uses (port: in the fleet file, or Port in the ssh config)',
  EHOSTUNREACH: 'no route to it: check its address and that it is up; a firewall on the way may reject it',
  ENETUNREACH: 'no route to its network from here: check the address and this machine\'s routes or VPN',
};

export function reachCheck(ssh: EffectiveSsh, reached: Reached | undefined): CheckResult {
  if (ssh.proxy) return skip('reach', `reached through ${ssh.proxy}: the SSH connection checks the way`);
  if (!reached) return skip('reach', 'the name does not resolve');
  const where = `${reached.address.includes(':') ? `[${reached.address}]` : reached.address}:${ssh.port}`;
  if (!reached.ok) {
    const fix = REACH_FIXES[reached.error] ?? 'check that the machine is up and that sshd listens on that port, and that no firewall between drops it';
    return fail('reach', `${where}: ${reached.error === 'ECONNREFUSED' ? 'connection refused' : reached.error}`, fix);
  }
  if (reached.banner === undefined) return fail('reach', `${where} accepts connections but does not speak SSH (no SSH banner)`, `point fleet at sshd's port (port: in the fleet file, or Port in the ssh config)`);
  return ok('reach', `${where} answers: ${reached.banner}`);
}

export function rttCheck(reached: Reached | undefined, sessionMs: number | undefined): CheckResult {
  const tcp = reached?.ok ? reached.rttMs : undefined;
  const parts = [
    ...(tcp !== undefined ? [`TCP handshake ${formatMs(tcp)}`] : []),
    ...(sessionMs !== undefined ? [`a command over the SSH connection ${formatMs(sessionMs)}`] : []),
  ];
  if (parts.length === 0) return skip('rtt', 'nothing answered');
  const rtt = tcp ?? sessionMs!;
  const detail = parts.join(', ');
  if (tcp !== undefined && tcp > SLOW_RTT_MS) {
    return warn('rtt', `${detail}: slow`, `copies pay round trips (Nix 2.8 about one per store path): build on a machine near it (buildHost) or use --use-substitutes`, round(rtt));
  }
  return ok('rtt', detail, round(rtt));
}

const round = (ms: number) => Math.round(ms * 10) / 10;
export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** How the connection fleet uses went: up, refused for a reason ssh named, or not tried. */
export type Connected =
  | { ok: true }
  | { ok: false; kind: 'host-key-unknown' | 'host-key-changed' | 'auth' | 'unreachable' | 'other'; message: string };

export interface HostKeyFacts {
  name: string;
  ssh: EffectiveSsh;
  connected: Connected;
  /** The key the machine offers now (ssh-keyscan), when it was not known. */
  scanned?: HostKey;
  /** A builder with publicHostKey: fleet pins that key instead of known_hosts. */
  pinned?: { builder: string };
}

export function hostKeyCheck(f: HostKeyFacts): CheckResult {
  const files = f.ssh.userKnownHostsFiles.join(' ');
  if (f.connected.ok) {
    if (f.pinned) return ok('host-key', `matches the publicHostKey of builder ${f.pinned.builder}`);
    if (f.ssh.strictHostKeyChecking === 'no') {
      return warn('host-key', 'not checked: the ssh options say StrictHostKeyChecking no, so any machine answering there gets the deploys',
        `remove StrictHostKeyChecking no from the ssh options or config; then add the host's key to ${f.ssh.userKnownHostsFiles[0]}`);
    }
    const how = f.ssh.strictHostKeyChecking === 'accept-new' ? ' (or accepted on first use: StrictHostKeyChecking accept-new)' : '';
    return ok('host-key', `known${how}: ssh verified it (${files})`);
  }
  if (f.connected.kind === 'auth') return ok('host-key', `known: ssh got past it (${files})`);
  if (f.connected.kind !== 'host-key-unknown' && f.connected.kind !== 'host-key-changed') return skip('host-key', 'no SSH connection (see auth)');
  const scanned = f.scanned;
  const check = scanned ? ` (fingerprint ${fingerprint(scanned)}: compare it with \`ssh-keygen -lf /etc/ssh/ssh_host_${keyFile(scanned)}_key.pub\` run on ${f.name})` : '';
  if (f.pinned) {
    const fix = scanned
      ? `if the machine's key really changed${check}, set builder ${f.pinned.builder}'s publicHostKey in the fleet file to ${publicHostKeyValue(scanned)}`
      : `check the publicHostKey of builder ${f.pinned.builder} in the fleet file against the machine's key (ssh-keyscan)`;
    return fail('host-key', `the machine's host key is not the publicHostKey of builder ${f.pinned.builder}: ${f.connected.message}`, fix);
  }
  if (f.connected.kind === 'host-key-changed') {
    const name = scanned ? knownHostsLine(f.ssh, scanned).split(' ')[0]! : f.ssh.hostname;
    return fail('host-key', `the host key changed: ${f.connected.message}`,
      `if ${f.name} was reinstalled${check}, replace its old key: ssh-keygen -R '${name}' -f ${f.ssh.userKnownHostsFiles[0]}` +
      (scanned ? `, then add to ${f.ssh.userKnownHostsFiles[0]}: ${knownHostsLine(f.ssh, scanned)}` : '') + `; if it was not, do not deploy to it: something else answers there`);
  }
  const fix = scanned
    ? `add this line to ${f.ssh.userKnownHostsFiles[0]}${check}: ${knownHostsLine(f.ssh, scanned)}`
    : `connect once by hand and compare the fingerprint ssh shows with the machine's own: ssh -p ${f.ssh.port} ${f.ssh.user}@${f.ssh.hostname}`;
  return fail('host-key', `unknown: ${f.ssh.hostname}${f.ssh.port !== 22 ? ` port ${f.ssh.port}` : ''} is not in ${files}, and fleet never accepts a key unasked`, fix);
}

function keyFile(key: HostKey): string {
  if (key.type === 'ssh-ed25519') return 'ed25519';
  if (key.type.startsWith('ecdsa')) return 'ecdsa';
  return 'rsa';
}

export interface AuthFacts {
  name: string;
  ssh: EffectiveSsh;
  connected: Connected;
  /** The host key was unknown: the login tried with the scanned key trusted for this one check. */
  probe?: { ok: boolean; message: string };
}

export function authCheck(f: AuthFacts): CheckResult {
  const who = `${f.ssh.user}@${f.ssh.hostname}`;
  if (!f.connected.ok && (f.connected.kind === 'unreachable' || f.connected.kind === 'other')) {
    // Through a proxy nothing was checked before; else ssh failed past a port that answered (MaxStartups, a firewall's reset…).
    return fail('auth', `no SSH connection to ${who}${f.ssh.proxy ? ` (through ${f.ssh.proxy})` : ''}: ${f.connected.message}`,
      `see where it stops: ssh -v -p ${f.ssh.port} ${who} true`);
  }
  const outcome = f.connected.ok ? { ok: true, message: '' }
    : f.connected.kind === 'auth' ? { ok: false, message: f.connected.message }
    : f.probe;
  if (!outcome) return skip('auth', f.connected.ok ? 'not asked' : 'not tried: the host key is not known');
  if (outcome.ok) {
    if (!f.ssh.batchMode) {
      return warn('auth', `${who} logged in, but the ssh options turn BatchMode off: a key with a passphrase or a password would prompt and an unattended run would wait`,
        'remove BatchMode no from the ssh options or config; load a key with a passphrase into ssh-agent');
    }
    return ok('auth', `${who} logs in without a prompt (BatchMode)${f.probe ? ', with the key ssh-keyscan read trusted for this check only' : ''}`);
  }
  return fail('auth', `${who} was refused: ${outcome.message}`,
    `install this machine's public key for ${f.ssh.user} on ${f.name}: ssh-copy-id -p ${f.ssh.port} ${who} (or append it to ~${f.ssh.user}/.ssh/authorized_keys there; ` +
    `NixOS: users.users.${f.ssh.user}.openssh.authorizedKeys.keys); a key with a passphrase must be in ssh-agent (fleet never prompts)`);
}

/** The session fleet's commands ride: it ran the script, and the login shell printed nothing on stdout. */
export function sessionCheck(name: string, ssh: Pick<EffectiveSsh, 'user' | 'hostname' | 'port'>, gathered: Gathered | undefined, failure: string | undefined): CheckResult {
  const user = ssh.user;
  if (failure !== undefined) {
    return fail('session', `the checks could not run on ${name}: ${failure}`,
      `see why by hand: ssh -p ${ssh.port} ${user}@${ssh.hostname} 'sh -c true' (a login shell that is not a POSIX shell, a ForceCommand, or a full disk refuse commands)`);
  }
  if (!gathered) return skip('session', 'no session');
  if (gathered.preamble.length > 0) {
    return fail('session', `the login shell of ${user} prints on stdout in a non-interactive session ("${gathered.preamble[0]}"): nix-copy-closure and remote builds then fail with a protocol error`,
      `make ${user}'s shell start-up files on ${name} print only in interactive shells: at the top of ~/.bashrc, \`case $- in *i*) ;; *) return ;; esac\`, or send the output to stderr`);
  }
  if (!gathered.complete) return fail('session', `the checks stopped half-way on ${name}`, 'run fleet doctor again; if it stays so, run its script by hand (fleet doctor --json shows each check)');
  return ok('session', 'a non-interactive session runs commands and prints nothing of its own');
}
