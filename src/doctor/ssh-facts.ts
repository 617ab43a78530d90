// What ssh itself says: the effective configuration for a destination (`ssh -G`, no connection), why a connection
// failed (its own words), and a machine's host key as ssh-keyscan reads it, with the known_hosts line ssh looks for.
import { createHash } from 'node:crypto';

/** `ssh -G`'s answer: the settings ssh would use for fleet's exact options. */
export interface EffectiveSsh {
  hostname: string;
  port: number;
  user: string;
  /** ProxyJump or ProxyCommand: the TCP connection goes elsewhere first. */
  proxy?: string;
  hostKeyAlias?: string;
  userKnownHostsFiles: string[];
  strictHostKeyChecking: string; // yes | ask | accept-new | no (ssh -G writes false/true for no/yes on some versions)
  batchMode: boolean;
  addressFamily: 0 | 4 | 6;
}

export function parseSshG(stdout: string): EffectiveSsh | undefined {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line.trim());
    if (m && !values.has(m[1]!)) values.set(m[1]!.toLowerCase(), m[2]!);
  }
  const hostname = values.get('hostname');
  const port = Number(values.get('port') ?? 22);
  if (!hostname || !Number.isInteger(port)) return undefined;
  const proxyJump = values.get('proxyjump');
  const proxyCommand = values.get('proxycommand');
  const proxy = proxyJump && proxyJump !== 'none' ? `ProxyJump ${proxyJump}` : proxyCommand && proxyCommand !== 'none' ? `ProxyCommand ${proxyCommand}` : undefined;
  const alias = values.get('hostkeyalias');
  const family = values.get('addressfamily');
  return {
    hostname,
    port,
    user: values.get('user') ?? '',
    ...(proxy ? { proxy } : {}),
    ...(alias && alias !== 'none' ? { hostKeyAlias: alias } : {}),
    userKnownHostsFiles: (values.get('userknownhostsfile') ?? '~/.ssh/known_hosts').split(/\s+/).filter(Boolean),
    strictHostKeyChecking: normalizeStrict(values.get('stricthostkeychecking') ?? 'ask'),
    batchMode: values.get('batchmode') === 'yes',
    addressFamily: family === 'inet' ? 4 : family === 'inet6' ? 6 : 0,
  };
}

function normalizeStrict(value: string): string {
  if (value === 'true') return 'yes';
  if (value === 'false' || value === 'off') return 'no';
  return value;
}

/** Host keys are not checked at all: a machine in the middle would get the deploys. */
export function hostKeysUnchecked(ssh: EffectiveSsh): boolean {
  return ssh.strictHostKeyChecking === 'no';
}

export type ConnectFailureKind = 'host-key-unknown' | 'host-key-changed' | 'auth' | 'unreachable' | 'other';

/** Why a connection failed, from ssh's own last words (fleet's SshConnectError carries them). */
export function classifyConnectFailure(message: string): ConnectFailureKind {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed|host key .*does not match/i.test(message)) return 'host-key-changed';
  if (/No \S+ host key is known for|Host key verification failed/i.test(message)) return 'host-key-unknown';
  if (/Permission denied \(|Too many authentication failures|no more authentication methods/i.test(message)) return 'auth';
  if (/Connection refused|Connection timed out|timed out|No route to host|Network is unreachable|Could not resolve hostname|Connection closed by|Connection reset/i.test(message)) return 'unreachable';
  return 'other';
}

/** The name ssh looks a host key up by: HostKeyAlias, else the host name, as `[host]:port` off port 22. */
export function knownHostsName(ssh: Pick<EffectiveSsh, 'hostname' | 'port' | 'hostKeyAlias'>): string {
  if (ssh.hostKeyAlias) return ssh.hostKeyAlias;
  return ssh.port === 22 ? ssh.hostname : `[${ssh.hostname}]:${ssh.port}`;
}

export interface HostKey {
  type: string; // ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa...
  key: string; // base64
}

/** The key types ssh prefers, best first; a machine's known key of the first kind it offers is enough. */
const PREFERRED = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** ssh-keyscan's output (`name type key` lines, `#` comments) → the key to add, the preferred kind first. */
export function pickScannedKey(stdout: string): HostKey | undefined {
  const keys: HostKey[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\S+\s+(\S+)\s+([A-Za-z0-9+/=]+)\s*$/.exec(line.trim());
    if (m && !line.startsWith('#')) keys.push({ type: m[1]!, key: m[2]! });
  }
  const rank = (k: HostKey) => (PREFERRED.includes(k.type) ? PREFERRED.indexOf(k.type) : PREFERRED.length);
  return keys.sort((a, b) => rank(a) - rank(b))[0];
}

/** `SHA256:…`, as ssh prints a key's fingerprint. */
export function fingerprint(key: HostKey): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(key.key, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** The known_hosts line for a scanned key. */
export function knownHostsLine(ssh: Pick<EffectiveSsh, 'hostname' | 'port' | 'hostKeyAlias'>, key: HostKey): string {
  return `${knownHostsName(ssh)} ${key.type} ${key.key}`;
}

/** A builder's `publicHostKey`: base64 of the key line, as Nix machines files write it. */
export function publicHostKeyValue(key: HostKey): string {
  return Buffer.from(`${key.type} ${key.key}`).toString('base64');
}
