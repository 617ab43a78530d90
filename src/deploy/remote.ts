// Commands fleet runs on targets: constant scripts with data passed as positional arguments,
// so no node-controlled string is ever parsed by a shell.
import type { ResolvedNode } from '../config/types.js';
import type { TargetState } from '../plan/types.js';

// Both scripts report the node's state with this one function; $1 prefixes each key.
const STATE_FUNCTION = [
  'state() { l=$(readlink "$p" 2>/dev/null) && echo "$1profileLink=$l" && echo "$1profileTarget=$(readlink -f "$p")"',
  '  c=$(readlink /run/current-system 2>/dev/null) && echo "$1currentSystem=$c"; return 0; }',
].join('\n');

/** Read-only: what does the node run, and does it already have the desired toplevel? */
export const PROBE_SCRIPT = [
  'p=$1; out=$2',
  STATE_FUNCTION,
  "state ''",
  // The profile's own target is valid (a GC root): spare the nix-store call on the no-op path.
  'if [ "$(readlink -f "$p")" = "$out" ] && [ -e "$out" ]; then echo hasOut=1; elif nix-store --check-validity "$out" >/dev/null 2>&1; then echo hasOut=1; fi',
  'command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && echo systemd=1',
  'exit 0',
].join('\n');

export function probeArgv(profile: string, outPath: string): string[] {
  return ['sh', '-c', PROBE_SCRIPT, 'fleet-probe', profile, outPath];
}

export function parseProbe(stdout: string): TargetState {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return { hasOut: values.get('hasOut') === '1', ...toState(values), systemd: values.get('systemd') === '1' };
}

/** One round trip per activation: record what runs now, refuse a non-system, set the profile, switch,
 *  and report the state after. Lines for fleet start with `@fleet `; the rest is the switch's own output.
 *  Exit 90: refused (nothing changed); 91: setting the profile failed; 92: the switch failed. */
export const ACTIVATE_SCRIPT = [
  'p=$1; out=$2; set_profile=$3; check=$4; shift 4',
  'say() { echo "@fleet $1"; }',
  STATE_FUNCTION,
  "state '@fleet before.'",
  'say recorded',
  'if [ "$check" = 1 ] && [ ! -x "$out/bin/switch-to-configuration" ]; then say refused; exit 90; fi',
  'if [ "$set_profile" = 1 ]; then say step=profile; nix-env -p "$p" --set "$out" || exit 91; fi',
  'say step=switch',
  '"$@"; rc=$?',
  'if [ "$rc" != 0 ]; then say "switch-exit=$rc"; exit 92; fi',
  'say step=verify',
  "state '@fleet after.'",
  'say done',
].join('\n');

export function activateArgv(profile: string, outPath: string, setProfile: boolean, checkSystem: boolean, switchCommand: string[]): string[] {
  return ['sh', '-c', ACTIVATE_SCRIPT, 'fleet-activate', profile, outPath, setProfile ? '1' : '0', checkSystem ? '1' : '0', ...switchCommand];
}

export interface ActivationReport {
  recorded: boolean;
  refused: boolean;
  done: boolean;
  switchExit?: number;
  before: Pick<TargetState, 'profileLink' | 'generation' | 'profileTarget' | 'currentSystem'>;
  after: Pick<TargetState, 'profileLink' | 'generation' | 'profileTarget' | 'currentSystem'>;
}

/** Reads the `@fleet` lines of ACTIVATE_SCRIPT's output (whatever else the switch printed). */
export function parseActivation(stdout: string): ActivationReport {
  const flags = new Set<string>();
  const before = new Map<string, string>();
  const after = new Map<string, string>();
  let switchExit: number | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('@fleet ')) continue;
    const [key = '', ...rest] = line.slice('@fleet '.length).split('=');
    const value = rest.join('=').trim();
    if (key.startsWith('before.')) before.set(key.slice(7), value);
    else if (key.startsWith('after.')) after.set(key.slice(6), value);
    else if (key === 'switch-exit') switchExit = Number(value);
    else flags.add(key.trim());
  }
  return {
    recorded: flags.has('recorded'), refused: flags.has('refused'), done: flags.has('done'),
    ...(switchExit === undefined ? {} : { switchExit }),
    before: toState(before), after: toState(after),
  };
}

function toState(values: Map<string, string>): ActivationReport['before'] {
  const link = values.get('profileLink');
  const generation = link ? /-(\d+)-link$/.exec(link)?.[1] : undefined;
  return {
    ...(link ? { profileLink: link, profileTarget: values.get('profileTarget') } : {}),
    ...(generation ? { generation: Number(generation) } : {}),
    ...(values.get('currentSystem') ? { currentSystem: values.get('currentSystem') } : {}),
  };
}

/** Prefix with the node's privilege escalation when it is not reached as root. */
export function withPrivilege(node: Pick<ResolvedNode, 'user' | 'privilegeEscalation'>, argv: string[]): string[] {
  return node.user === 'root' ? argv : [...node.privilegeEscalation, ...argv];
}

/** switch-to-configuration, detached under systemd when the target has it (survives a dropped ssh),
 *  else bounded by coreutils `timeout` on the target so a hang cannot outlive fleet's own deadline. */
export function switchArgv(outPath: string, goal: string, state: Pick<TargetState, 'systemd'>, timeoutSeconds: number, unit: string): string[] {
  const program = `${outPath}/bin/switch-to-configuration`;
  if (state.systemd) {
    return ['systemd-run', `--unit=${unit}`, '--collect', '--no-ask-password', '--pipe', '--quiet', '--wait', '--service-type=exec',
      `--property=RuntimeMaxSec=${timeoutSeconds}`, '-E', 'LOCALE_ARCHIVE', '-E', 'NIXOS_INSTALL_BOOTLOADER', '--', program, goal];
  }
  return ['timeout', '-k', '5', String(timeoutSeconds), program, goal];
}
