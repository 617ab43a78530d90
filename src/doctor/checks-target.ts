// Checks of what a deploy needs on a target beyond Nix: root without a prompt, a way to detach the activation, the
// agent's tools, room on /nix and /run, a clock near the deployer's, its lock, the agent's run dirs. Pure.
import { parseLockRecord } from '../agent/lock.js';
import { formatBytes } from '../diff/format.js';
import { describeHolder, lockTime } from '../lock/text.js';
import { AGENT_TOOLS, type DiskFree, type Gathered } from './script.js';
import { fail, ok, skip, warn, type CheckResult } from './types.js';

/** Below this much free space on /nix a deploy is likely to fail half-way through a copy or a build. */
export const MIN_FREE_NIX = 1024 ** 3;
/** /nix is (nearly) full: then Nix itself may fail to open its database, and every Nix check says so. */
export function nixFull(g: Pick<Gathered, 'disk'>): boolean {
  return g.disk.nix !== undefined && g.disk.nix.availableKiB * 1024 < MIN_FREE_NIX;
}
/** /run holds /run/current-system, the lock and the agent's run dirs: small, but a full tmpfs stops activations. */
export const MIN_FREE_RUN = 16 * 1024 ** 2;
/** A clock further off than this (after what the measurement cannot tell) is reported. */
export const CLOCK_TOLERANCE_MS = 10_000;
/** Run dirs taking more than this of /run are worth clearing. */
export const RUN_DIRS_MAX_KIB = 64 * 1024;

export interface SudoFacts {
  name: string;
  user: string;
  /** The node's privilegeEscalation, as fleet runs it. */
  escalation: readonly string[];
  passwordGiven: boolean;
}

export function sudoCheck(f: SudoFacts, g: Gathered): CheckResult {
  if (f.user === 'root') return ok('sudo', 'the SSH user is root: nothing to escalate');
  const how = f.escalation.join(' ');
  const e = g.escalation;
  if (!e) return skip('sudo', 'not asked');
  if (e.exit === 0) return ok('sudo', `\`${how}\` runs commands as root ${f.passwordGiven ? 'with the password given' : 'without asking for a password'}`);
  const said = e.output.join('; ') || `exit ${e.exit}`;
  const tool = f.escalation[0] ?? 'sudo';
  const sudoers = `echo '${f.user} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/fleet-${f.user} && chmod 440 /etc/sudoers.d/fleet-${f.user}`;
  const nixos = `NixOS: security.sudo.extraRules = [ { users = [ "${f.user}" ]; commands = [ { command = "ALL"; options = [ "NOPASSWD" ]; } ]; } ];`;
  if (e.exit === 127 || /command not found|not found/i.test(said)) {
    return fail('sudo', `${tool} is not installed on ${f.name} (${said})`, `install ${tool} on ${f.name}, or set the node's privilegeEscalation to what it has (or connect as root)`);
  }
  if (/incorrect password|Sorry, try again/i.test(said)) {
    return fail('sudo', `${tool} refused the password given for ${f.user} on ${f.name}: ${said}`, `give ${f.user}'s password on ${f.name} (--ask-sudo-password, or FLEET_SUDO_PASSWORD_FILE)`);
  }
  if (/not in the sudoers|not allowed to|may not run sudo/i.test(said)) {
    return fail('sudo', `${f.user} may not use ${tool} on ${f.name}: ${said}`, `as root on ${f.name}: ${sudoers} (${nixos}), or connect as root`);
  }
  if (/password is required|terminal is required|askpass/i.test(said)) {
    return fail('sudo', `${tool} asks ${f.user} for a password on ${f.name} (${said}): a deploy there stops before activating`,
      `run fleet with --ask-sudo-password (CI: FLEET_SUDO_PASSWORD_FILE=<file>) if ${f.user} has sudo with a password; to need none, as root on ${f.name}: ${sudoers} (${nixos})`);
  }
  if (e.exit === 124) return fail('sudo', `\`${how} true\` did not end within 20 s on ${f.name}: it waits for something`, `run \`${how} true\` by hand over ssh on ${f.name} and see what it asks`);
  return fail('sudo', `\`${how} true\` failed on ${f.name}: ${said}`, `run \`${how} true\` by hand over ssh on ${f.name}: it must succeed without a prompt (or with --ask-sudo-password)`);
}

export function activationCheck(name: string, g: Gathered): CheckResult {
  if (g.systemd) return ok('activation', 'systemd runs: activations are detached into a transient unit (systemd-run)');
  if (g.have.has('setsid')) return ok('activation', 'no systemd: activations are detached with setsid');
  return fail('activation', `neither systemd (with systemd-run) nor setsid on ${name}: an activation could not outlive the SSH connection`, `install util-linux on ${name} (it has setsid)`);
}

/** The package that brings each tool on Debian-like systems (NixOS has them all). */
const PACKAGE_OF: Record<string, string> = { flock: 'util-linux', setsid: 'util-linux', sed: 'sed' };

export function toolsCheck(name: string, g: Gathered): CheckResult {
  const missing = AGENT_TOOLS.filter((t) => !g.have.has(t));
  if (missing.length === 0) return ok('tools', `the agent's tools are there (${AGENT_TOOLS.join(', ')})`);
  const packages = [...new Set(missing.map((t) => PACKAGE_OF[t] ?? 'coreutils'))];
  return fail('tools', `fleet's agent needs ${missing.join(', ')}, missing on ${name}`, `install ${packages.join(' and ')} on ${name}`);
}

export function diskCheck(name: string, which: 'nix' | 'run', disk: DiskFree | undefined, builder = false): CheckResult {
  const check = which === 'nix' ? 'disk-nix' : 'disk-run';
  const dir = `/${which}`;
  if (!disk) return warn(check, `could not read the free space of ${dir} on ${name} (df -Pk ${dir})`, `check it by hand: df -h ${dir}`);
  const free = disk.availableKiB * 1024;
  const min = which === 'nix' ? MIN_FREE_NIX : MIN_FREE_RUN;
  const on = disk.mountedOn !== dir ? ` (on ${disk.mountedOn})` : '';
  if (free >= min) return ok(check, `${formatBytes(free)} free on ${dir}${on}`, free);
  const need = `fleet wants at least ${formatBytes(min)}`;
  if (which === 'nix') {
    return fail(check, `${dir} has only ${formatBytes(free)} free${on} on ${name}: ${need}; ${builder ? 'builds' : 'copies and builds'} there fail when it fills`,
      `free space on ${name}: nix-collect-garbage --delete-older-than 14d as root (it also drops old system generations), or grow the file system${on}`, free);
  }
  return fail(check, `${dir} has only ${formatBytes(free)} free${on} on ${name}: ${need}; activations write there`,
    `as root on ${name}, find what fills it (du -sh /run/* | sort -h), or enlarge it (NixOS: boot.runSize)`, free);
}

/** The measured window: the deployer's clock just before and after the session that read the target's. */
export interface ClockWindow {
  beforeMs: number;
  afterMs: number;
}

export function clockCheck(name: string, g: Gathered, window: ClockWindow): CheckResult {
  if (g.clock === undefined) return warn('clock', `could not read the clock of ${name} (date +%s)`, `check it by hand: date -u on ${name} and here`);
  const midpoint = (window.beforeMs + window.afterMs) / 2;
  const offsetMs = g.clock * 1000 - midpoint;
  // The target read its clock somewhere in the window; whole seconds only add up to one more second.
  const uncertainMs = (window.afterMs - window.beforeMs) / 2 + (g.clockPrecise ? 0 : 1000);
  const size = Math.abs(offsetMs);
  const text = `${size < 1000 ? `${Math.round(size)} ms` : `${(size / 1000).toFixed(1)} s`} ${offsetMs >= 0 ? 'ahead of' : 'behind'} the deployer's (± ${Math.round(uncertainMs)} ms)`;
  if (Math.abs(offsetMs) - uncertainMs > CLOCK_TOLERANCE_MS) {
    return warn('clock', `the clock of ${name} is ${text}: its lock expiries and the watchdog's window run on its own clock, the deploy records' times on the deployer's`,
      `sync the clocks (on ${name}: timedatectl set-ntp true; NixOS: services.timesyncd.enable = true)`, Math.round(offsetMs));
  }
  return ok('clock', text, Math.round(offsetMs));
}

export function lockCheck(name: string, lockFile: string, g: Gathered): CheckResult {
  if (!g.lock) return ok('lock', `free (${lockFile})`);
  const holder = parseLockRecord(g.lock);
  if (!holder) return warn('lock', `${lockFile} holds an unreadable record ("${g.lock}"): the next apply takes it over`, `nothing to do; to clear it now, as root on ${name}: rm ${lockFile}`);
  // Expiry is the target's own clock against the target's own record, as the agent decides it.
  if (g.clock !== undefined && g.clock >= holder.expires) {
    return warn('lock', `an expired lock of ${describeHolder(holder)}, expired ${lockTime(holder.expires)}: that run ended without releasing it; the next apply takes it over`,
      `nothing to do (fleet apply takes an expired lock over)`);
  }
  return fail('lock', `held by ${describeHolder(holder)}, until ${lockTime(holder.expires)} unless renewed: an apply now leaves ${name} alone (locked)`,
    `wait for that run to end; if it is gone (its deployer crashed), take the lock over: fleet apply --break-lock --on ${name}`);
}

export function runDirsCheck(name: string, g: Gathered): CheckResult {
  const r = g.runDirs;
  if (!r) return skip('run-dirs', 'not asked');
  if (r.count === 0) return ok('run-dirs', 'no run dirs in /run/fleet', 0);
  const size = r.kib !== undefined ? `, ${formatBytes(r.kib * 1024)}` : '';
  const busy = r.unfinished > 0 ? `; ${r.unfinished} with an activation that has not written its status (running now, or cut off by a crash)` : '';
  const text = `${r.count} run ${r.count === 1 ? 'dir' : 'dirs'} in /run/fleet${size}${busy} (cleared at boot)`;
  if (r.kib !== undefined && r.kib > RUN_DIRS_MAX_KIB) {
    return warn('run-dirs', `${text}: more than ${formatBytes(RUN_DIRS_MAX_KIB * 1024)} of /run`,
      `as root on ${name}, remove the run dirs of runs older than a day: find /run/fleet -mindepth 1 -maxdepth 1 -type d ! -name locks -mtime +0 -exec rm -rf {} +`, r.count);
  }
  return ok('run-dirs', text, r.count);
}
