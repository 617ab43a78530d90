// Commands fleet runs on targets: constant scripts with data passed as positional arguments,
// so no node-controlled string is ever parsed by a shell.
import type { ResolvedNode } from '../config/types.js';
import type { TargetState } from '../plan/types.js';

/** Read-only: what does the node run, and does it already have the desired toplevel? */
export const PROBE_SCRIPT = [
  'p=$1; out=$2',
  'l=$(readlink "$p" 2>/dev/null) && echo "profileLink=$l"',
  't=$(readlink -f "$p" 2>/dev/null) && echo "profileTarget=$t"',
  'c=$(readlink /run/current-system 2>/dev/null) && echo "currentSystem=$c"',
  // The profile's own target is valid (a GC root): spare the nix-store call on the no-op path.
  'if [ "$t" = "$out" ] && [ -e "$out" ]; then echo hasOut=1; elif nix-store --check-validity "$out" >/dev/null 2>&1; then echo hasOut=1; fi',
  '[ -x "$out/bin/switch-to-configuration" ] && echo isSystem=1',
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
  const link = values.get('profileLink');
  const generation = link ? /-(\d+)-link$/.exec(link)?.[1] : undefined;
  return {
    hasOut: values.get('hasOut') === '1',
    ...(link ? { profileLink: link } : {}),
    ...(generation ? { generation: Number(generation) } : {}),
    ...(values.get('profileTarget') && link ? { profileTarget: values.get('profileTarget') } : {}),
    ...(values.get('currentSystem') ? { currentSystem: values.get('currentSystem') } : {}),
    isSystem: values.get('isSystem') === '1',
    systemd: values.get('systemd') === '1',
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
