// Checks of Nix on a machine: nix-store on the PATH of non-interactive sessions, the version and the programs fleet
// runs there, the store answering (the serve protocol nix-copy-closure speaks), trust, systems and features.
import { nixFull } from './checks-target.js';
import { NIX_PLACES, PING_PATH, SERVE_REPLY_MAGIC, type Gathered } from './script.js';
import { fail, ok, skip, warn, type CheckResult, type DoctorRole } from './types.js';

const FULL_FIX = 'free space on /nix first (see disk-nix): Nix cannot even open its database on a full disk';

/** The oldest Nix fleet is tested with (Debian 12's nix-bin); older ones are not refused, only flagged. */
export const TESTED_NIX = [2, 8] as const;

/** `nix-store (Nix) 2.8.0`, `nix-store (Lix, like Nix) 2.91.1` → [2, 8] / [2, 91]. */
export function nixVersionOf(line: string | undefined): [number, number] | undefined {
  const m = line ? /(\d+)\.(\d+)(?:\.\d+)?/.exec(line) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const older = (v: readonly [number, number], than: readonly [number, number]) => v[0] < than[0] || (v[0] === than[0] && v[1] < than[1]);

/** What fleet runs where: the deployer evaluates, copies and reaches hosts; targets keep profiles; builders build. */
export const REQUIRED: Record<DoctorRole, readonly string[]> = {
  deployer: ['nix-instantiate', 'nix-store', 'nix-copy-closure', 'ssh'],
  node: ['nix-store', 'nix-env'],
  builder: ['nix-store'],
};

/** The deployer: Nix and the tools fleet runs here; a flake fleet needs Nix 2.4 or later (builtins.getFlake). */
export function deployerNixCheck(g: Gathered, flake: boolean): CheckResult {
  const missing = REQUIRED.deployer.filter((p) => !g.have.has(p));
  if (missing.length > 0) {
    return fail('nix', `${missing.join(', ')} not on this machine's PATH (PATH=${g.path ?? '?'})`,
      `install Nix here (https://nixos.org/download; Debian: apt-get install nix-bin${missing.includes('ssh') ? ' openssh-client' : ''}) or put its bin directory on the PATH`);
  }
  const version = nixVersionOf(g.nixVersion);
  if (flake && version && older(version, [2, 4])) {
    return fail('nix', `${g.nixVersion}: flakes need Nix 2.4 or later`, 'upgrade Nix on this machine, or point the fleet file at a Nix file (nix: { file: … })');
  }
  return ok('nix', `${g.nixVersion ?? 'Nix'}; ${REQUIRED.deployer.join(', ')} on the PATH`);
}

export function nixPathCheck(name: string, g: Gathered): CheckResult {
  const where = g.have.get('nix-store');
  if (where) return ok('nix-path', `nix-store is ${where} on the PATH of non-interactive SSH sessions`);
  const path = g.path ?? '';
  if (g.nixFoundIn) {
    return fail('nix-path', `nix-store is in ${g.nixFoundIn}, which is not on the PATH of non-interactive SSH sessions (PATH=${path}): ` +
      `nix-copy-closure fails there with "nix-store: command not found"`,
      `on ${name}, add \`SetEnv PATH=${path ? `${path}:` : ''}${g.nixFoundIn}\` to /etc/ssh/sshd_config and reload sshd (systemctl reload sshd); ` +
      `or have the shell's non-interactive start-up put ${g.nixFoundIn} on the PATH (bash: source the Nix profile at the top of /etc/bash.bashrc, before its interactive test)`);
  }
  const user = g.user ?? 'the SSH user';
  const places = NIX_PLACES.map((p) => p.replace('$HOME', '~').replace('$u', user));
  return fail('nix-path', `Nix is not installed for ${user} on ${name}: nix-store is neither on the PATH (${path}) nor in ${places.join(', ')}`,
    `install Nix on ${name} (https://nixos.org/download), then run fleet doctor again`);
}

export function nixVersionCheck(role: DoctorRole, g: Gathered, deployerVersion: string | undefined): CheckResult {
  if (!g.nixStore) return skip('nix-version', 'no nix-store to ask');
  if (!g.nixVersion) {
    return fail('nix-version', `nix-store --version failed: ${g.nixVersionError ?? 'it printed nothing'}`,
      nixFull(g) ? FULL_FIX : 'run nix-store --version on it and read what Nix says (a broken store database fails so)');
  }
  const sides = `${g.nixVersion}${deployerVersion ? ` (the deployer: ${deployerVersion})` : ''}`;
  // nix-store itself may be off the PATH (nix-path says so); the others are looked for next to where it was found.
  const missing = REQUIRED[role].filter((p) => !g.have.has(p) && !(g.nixFoundIn && p.startsWith('nix')));
  if (missing.length > 0) {
    return fail('nix-version', `${sides}, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on the PATH: fleet runs ${missing.join(', ')} there`,
      `install the whole of Nix on it (${missing.join(', ')} come${missing.length === 1 ? 's' : ''} with nix-store), or put its bin directory on the sessions' PATH`);
  }
  const version = nixVersionOf(g.nixVersion);
  if (!version) return warn('nix-version', `${sides}: not a version fleet can read`, 'check that nix-store --version on it names Nix or Lix 2.8 or later');
  if (older(version, TESTED_NIX)) {
    return warn('nix-version', `${sides}: older than any Nix fleet is tested with (${TESTED_NIX.join('.')})`, 'upgrade Nix on it to 2.8 or later');
  }
  const copies = role === 'builder' && !g.have.has('nix-copy-closure') && !g.nixFoundIn ? '; no nix-copy-closure: closures go to targets through the deployer' : '';
  return ok('nix-version', `${sides}; ${REQUIRED[role].join(', ')} there${copies}`);
}

/** `cbee5254 00000000 07 02 …` → `2.7`. */
export function serveVersion(hex: string | undefined): string | undefined {
  if (!hex?.startsWith(SERVE_REPLY_MAGIC) || hex.length < 20) return undefined;
  return `${parseInt(hex.slice(18, 20), 16)}.${parseInt(hex.slice(16, 18), 16)}`;
}

/** How the SSH user's Nix reaches the store: itself, or through nix-daemon (Nix's `auto`). */
export function storeMode(g: Gathered): 'local' | 'daemon' | 'unwritable' {
  if (g.nixRemote !== '' && g.nixRemote !== 'local' && g.nixRemote !== 'auto') return 'daemon';
  if (g.stateWritable) return 'local';
  return g.daemonSocket ? 'daemon' : 'unwritable';
}

export function storeCheck(name: string, g: Gathered): CheckResult {
  if (!g.nixStore) return skip('store', 'no nix-store to ask');
  const mode = storeMode(g);
  const said = g.ping?.output.join('; ') ?? '';
  if (!g.ping || g.ping.exit !== 0) {
    const fix = /daemon-socket|Connection refused|No such file or directory.*socket/i.test(said) ? `start nix-daemon on ${name} (systemctl start nix-daemon)`
      : nixFull(g) || /disk is full|No space left/i.test(said) ? FULL_FIX
      : `run nix-store --verify on ${name} and read what Nix says`;
    return fail('store', `the store does not answer (nix-store --check-validity ${PING_PATH}): ${said || `exit ${g.ping?.exit ?? '?'}`}`, fix);
  }
  if (mode === 'unwritable') {
    return fail('store', `${g.user ?? 'the SSH user'} cannot write /nix/var/nix and there is no nix-daemon socket: copies to ${name} fail`,
      `start nix-daemon on ${name} (multi-user Nix: systemctl start nix-daemon.socket), or connect as the user that owns the store`);
  }
  const serve = serveVersion(g.serve);
  if (!serve) {
    return fail('store', `nix-store --serve did not answer the handshake nix-copy-closure and remote builds start with (got "${(g.serve ?? '').slice(0, 32)}")`,
      `run \`nix-store --serve\` on ${name} by hand: Nix's own error says why`);
  }
  return ok('store', `nix-store --serve answers (serve protocol ${serve}); the store answers ${mode === 'daemon' ? 'through nix-daemon' : 'directly (no daemon)'}`);
}

/** Nix's matchUser: a user name, `@group`, or `*`. */
export function matchesUser(list: readonly string[], user: string, groups: readonly string[]): boolean {
  return list.some((entry) => entry === '*' || entry === user || (entry.startsWith('@') && groups.includes(entry.slice(1))));
}

/** Nodes receive unsigned copies, builders also unsigned derivations to build: through a daemon both need a trusted user. */
export function trustedCheck(name: string, role: DoctorRole, g: Gathered): CheckResult {
  if (!g.nixStore) return skip('trusted', 'no nix-store to ask');
  const user = g.user ?? '?';
  const mode = storeMode(g);
  if (mode !== 'daemon') return ok('trusted', `${user} ${mode === 'local' ? 'writes the store itself (no nix-daemon in between): nothing to trust' : 'cannot use the store (see store)'}`);
  const setting = g.conf.get('trusted-users');
  if (setting === undefined) {
    return warn('trusted', `could not read nix-daemon's trusted-users on ${name} (nix show-config and nix config show both failed)`,
      `check that trusted-users in /etc/nix/nix.conf on ${name} names ${user}`);
  }
  const list = setting.split(/\s+/).filter(Boolean);
  if (matchesUser(list, user, g.groups)) return ok('trusted', `${user} is trusted by nix-daemon (trusted-users = ${setting})`);
  const what = role === 'builder' ? 'derivations sent to it to build and the paths copied to it are refused' : role === 'deployer' ? 'nix-daemon ignores the builders fleet passes (a restricted setting): everything builds here' : 'closures copied to it are refused ("lacks a valid signature")';
  return fail('trusted', `${user} is not in nix-daemon's trusted-users (${setting || 'empty'}) on ${name}: ${what}`,
    `on ${name}, set \`trusted-users = ${[...list, user].join(' ')}\` in /etc/nix/nix.conf and restart nix-daemon (systemctl restart nix-daemon); ` +
    `NixOS: nix.settings.trusted-users = [ "${user}" ];${role === 'deployer' ? '' : ' or connect as root'}`);
}

/** What a machine builds natively or by emulation: Nix's `system` and `extra-platforms`. */
export function machineSystems(g: Gathered): string[] | undefined {
  const system = g.conf.get('system');
  if (!system) return undefined;
  return [system, ...(g.conf.get('extra-platforms') ?? '').split(/\s+/).filter(Boolean)];
}

export interface SystemsFacts {
  name: string;
  /** A named builder's declared systems; undefined for an ad-hoc build host (the machine's own count). */
  declared?: readonly string[];
  /** Nodes built there and the system each is built for (the node's `system`, else what it reported). */
  needed: readonly { node: string; system?: string }[];
}

export function systemsCheck(f: SystemsFacts, g: Gathered): CheckResult {
  const machine = machineSystems(g);
  if (!machine) return warn('systems', `could not read the systems ${f.name} builds (nix show-config failed)`, `check \`nix show-config | grep system\` on ${f.name}`);
  const [native, ...extra] = machine;
  const builds = `builds ${native}${extra.length > 0 ? ` (and ${extra.join(', ')})` : ''}`;
  const unsupported = (f.declared ?? []).filter((s) => !machine.includes(s));
  if (unsupported.length > 0) {
    return fail('systems', `builder ${f.name} declares ${unsupported.join(', ')}, but the machine ${builds}`,
      `set builder ${f.name}'s systems to what it builds (systems: [${native}]), or make it build ${unsupported.join(', ')} (extra-platforms in its nix.conf; NixOS: boot.binfmt.emulatedSystems)`);
  }
  const offered = f.declared ?? machine;
  const wrong = f.needed.filter((n) => n.system !== undefined && !offered.includes(n.system));
  if (wrong.length > 0) {
    const list = wrong.map((n) => `${n.node} (${n.system})`).join(', ');
    return fail('systems', `${list} ${wrong.length === 1 ? 'is' : 'are'} built on ${f.name}, which ${f.declared ? `declares only ${f.declared.join(', ')}` : builds}`,
      f.declared ? `build ${wrong.map((n) => n.node).join(', ')} elsewhere (buildHost), or add ${[...new Set(wrong.map((n) => n.system))].join(', ')} to builder ${f.name}'s systems if the machine builds it` : `build ${wrong.map((n) => n.node).join(', ')} on a machine of that system (buildHost)`);
  }
  const forNodes = f.needed.length > 0 ? `; builds for ${f.needed.map((n) => n.node + (n.system ? ` (${n.system})` : '')).join(', ')}` : '';
  return ok('systems', `${builds}${f.declared ? `; declared ${f.declared.join(', ') || 'none'}` : ''}${forNodes}`);
}

/** A named builder's declared features against the machine's `system-features`. */
export function featuresCheck(name: string, supported: readonly string[], mandatory: readonly string[], g: Gathered): CheckResult {
  const setting = g.conf.get('system-features');
  if (setting === undefined) return warn('features', `could not read the system-features of ${name} (nix show-config failed)`, `check \`nix show-config | grep system-features\` on ${name}`);
  const machine = setting.split(/\s+/).filter(Boolean);
  const declared = [...new Set([...supported, ...mandatory])];
  const missing = declared.filter((f) => !machine.includes(f));
  if (missing.length > 0) {
    return fail('features', `builder ${name} declares ${missing.join(', ')}, which the machine's system-features (${setting || 'none'}) lack: builds that need ${missing.length === 1 ? 'it' : 'them'} fail there`,
      `drop ${missing.join(', ')} from builder ${name}'s supportedFeatures/mandatoryFeatures in the fleet file, or add ${missing.length === 1 ? 'it' : 'them'} to system-features in its nix.conf`);
  }
  return ok('features', `declared ${declared.join(', ') || 'none'}; the machine has ${setting || 'none'}`);
}
