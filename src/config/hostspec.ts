// Host specs as nh documents them (`host`, `user@host`, `ssh://…`, `ssh-ng://…`, `[v6]`), refusing ssh option injection.
import { isIPv6 } from 'node:net';
import type { HostSpec } from './types.js';

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const NAME_CHAR = /[A-Za-z0-9._-]/;

/** Parses a host spec; throws Error(message) naming what is wrong and how to write it instead. */
export function parseHostSpec(text: string): HostSpec {
  if (text === '') throw new Error('empty host spec');
  const scheme = SCHEME.exec(text);
  if (!scheme) return parseAuthority(text, text, false);
  if (scheme[1] !== 'ssh' && scheme[1] !== 'ssh-ng') {
    throw new Error(`unsupported scheme \`${scheme[1]}://\` in \`${text}\`; write \`ssh://\`, \`ssh-ng://\` or no scheme`);
  }
  const rest = text.slice(scheme[0].length);
  const extra = rest.search(/[/?#]/);
  if (extra >= 0) throw new Error(`\`${text}\`: nothing may follow the host (found \`${rest.slice(extra)}\`)`);
  return parseAuthority(rest, text, true);
}

/** `[user@]host[:port]` (port only in URLs); `whole` is quoted in messages. */
function parseAuthority(rest: string, whole: string, isUrl: boolean): HostSpec {
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : undefined;
  if (user !== undefined) checkUserName(user, whole);
  const { host, port } = splitPort(at >= 0 ? rest.slice(at + 1) : rest, whole, isUrl);
  return { ...(user !== undefined && { user }), host, ...(port !== undefined && { port }) };
}

function splitPort(hostPart: string, whole: string, isUrl: boolean): { host: string; port?: number } {
  if (hostPart === '') throw new Error(`missing host in \`${whole}\``);
  if (hostPart.startsWith('[')) return splitBracketed(hostPart, whole, isUrl);
  if (!isUrl && isIPv6(hostPart)) return { host: hostPart };
  const colon = hostPart.indexOf(':');
  if (colon < 0) return { host: checkHostName(hostPart, whole) };
  if (!isUrl) {
    throw new Error(
      `\`${whole}\`: a port goes in the \`port\` key or in a URL such as \`ssh://${hostPart}\` (IPv6 addresses go in brackets: \`[::1]\`)`,
    );
  }
  return { host: checkHostName(hostPart.slice(0, colon), whole), port: parsePort(hostPart.slice(colon + 1), whole) };
}

function splitBracketed(hostPart: string, whole: string, isUrl: boolean): { host: string; port?: number } {
  const close = hostPart.indexOf(']');
  if (close < 0) throw new Error(`missing \`]\` after the IPv6 address in \`${whole}\``);
  const host = hostPart.slice(1, close);
  if (!isIPv6(host)) throw new Error(`\`[${host}]\`${whole === hostPart ? '' : ` in \`${whole}\``} is not an IPv6 address`);
  const after = hostPart.slice(close + 1);
  if (after === '') return { host };
  if (isUrl && after.startsWith(':')) return { host, port: parsePort(after.slice(1), whole) };
  throw new Error(`unexpected \`${after}\` after \`[${host}]\` in \`${whole}\`; a port goes in the \`port\` key or in \`ssh://[${host}]:22\``);
}

function parsePort(text: string, whole: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`port \`${text}\` in \`${whole}\` must be a number from 1 to 65535`);
  return port;
}

/** A host name or IPv4 address: letters, digits, `.`, `_`, `-`, never a leading `-`. */
function checkHostName(host: string, whole: string): string {
  checkName('host', host, `missing host in \`${whole}\``);
  return host;
}

/** A user name as POSIX allows it portably; anything else could smuggle ssh options or shell syntax. */
function checkUserName(user: string, whole: string): string {
  checkName('user', user, `missing user before \`@\` in \`${whole}\``);
  return user;
}

function checkName(what: 'host' | 'user', value: string, emptyMessage: string): void {
  if (value === '') throw new Error(emptyMessage);
  if (value.startsWith('-')) {
    throw new Error(`${what} \`${value}\` starts with \`-\`, so ssh would read it as an option`);
  }
  const bad = [...value].find((c) => !NAME_CHAR.test(c));
  if (bad !== undefined) {
    throw new Error(
      `${what} \`${value}\` holds ${describeChar(bad)}; a ${what} name may hold only letters, digits, \`.\`, \`_\` and \`-\``,
    );
  }
}

function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  if (c === '\t') return 'a tab';
  if (c === '\n' || c === '\r') return 'a line break';
  if (/\s/.test(c)) return 'white space';
  return `\`${c}\``;
}

/** The spec back as text, for messages and keys: `user@host:port`, IPv6 bracketed when a port follows. */
export function formatHostSpec(spec: HostSpec): string {
  const host = spec.port !== undefined && spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.user ? `${spec.user}@` : ''}${host}${spec.port !== undefined ? `:${spec.port}` : ''}`;
}
