// Nix's remote builds for `buildHost: builders`: one machines line per builder, and the ssh_config that carries what a
// machines line cannot (port, ssh options, sshConfig). Works with Nix 2.8 and current Nix:
// - a port in `ssh://host:port` reaches Nix < 2.31's ssh as part of the host name, so the port goes in the ssh_config;
// - NIX_SSHOPTS is one string for every builder, so per-builder settings go in a `Host <host>` block of that file,
//   and NIX_SSHOPTS is just `-F <file>` (Nix's own `-i` and pinned known_hosts come after it on ssh's command line and win).
import { formatHostSpec } from '../config/hostspec.js';
import { sshOptionsToConfig } from '../config/ssh-options.js';
import type { Builder } from '../config/types.js';

export interface MachinesLineOptions {
  /** The identity file field (Nix passes it as `ssh -i`); default `-`: the ssh_config's IdentityFile, if any. */
  sshKey?: string;
}

/** One machines line: `ssh://[user@]host systems key maxJobs speedFactor supported mandatory publicHostKey`, `-` for empty. */
export function machinesLine(builder: Builder, opts: MachinesLineOptions = {}): string {
  const { user, host } = builder.host; // the port is in the ssh_config (see buildersSshConfig)
  const field = (items: readonly string[]) => (items.length === 0 ? '-' : items.join(','));
  return [
    `ssh://${user !== undefined ? `${user}@` : ''}${host}`,
    field(builder.systems),
    opts.sshKey ?? '-',
    String(builder.maxJobs),
    String(builder.speedFactor),
    field(builder.supportedFeatures),
    field(builder.mandatoryFeatures),
    builder.publicHostKey ?? '-',
  ].join(' ');
}

/** The value of `--builders` (Nix 2.8 and later split it at `;` and newlines). */
export function buildersOption(builders: readonly Builder[], opts: MachinesLineOptions = {}): string {
  return builders.map((b) => machinesLine(b, opts)).join(' ; ');
}

export interface SshConfigOptions {
  /** ssh_config files read when a builder has no `sshConfig` (the ones `-F` turns off). */
  defaultConfigs: readonly string[]; // e.g. [`${homedir()}/.ssh/config`, '/etc/ssh/ssh_config']
}

/**
 * An ssh_config with one `Host <host>` block per builder: its port, its sshOptions as ssh_config lines, then its
 * sshConfig (or the default files) included. ssh keeps the first value it reads, so the builder's own settings win,
 * as they do on a command line. `check` guarantees one builder per host name and only translatable options.
 */
export function buildersSshConfig(builders: readonly Builder[], opts: SshConfigOptions): string {
  const lines = ['# Written by fleet for `buildHost: builders`: Nix runs ssh with NIX_SSHOPTS="-F <this file>".'];
  for (const b of builders) {
    lines.push('', `# builder ${b.name} (${formatHostSpec(b.host)})`, `Host ${b.host.host}`);
    if (b.host.port !== undefined) lines.push(`  Port ${b.host.port}`);
    for (const line of sshOptionsToConfig(b.sshOptions)) lines.push(`  ${line}`);
    for (const file of includes(b, opts)) lines.push(`  Include ${quote(file)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** ssh_config splits arguments at white space unless double-quoted (a fleet directory may hold a space). */
function quote(value: string): string {
  return /\s/.test(value) ? `"${value}"` : value;
}

/** `-F /dev/null` means "no config file"; ssh refuses to Include /dev/null (world-writable), so nothing is included. */
function includes(b: Builder, opts: SshConfigOptions): readonly string[] {
  if (b.sshConfig === undefined) return opts.defaultConfigs;
  return b.sshConfig === '/dev/null' ? [] : [b.sshConfig];
}
