// The target-side agent: one constant script that records, activates and rolls back, detached from the
// SSH session, writing its state to files in a per-run directory. fleet decides from those files and from
// the live system, never from what a switch printed.
import { randomBytes } from 'node:crypto';
import type { SystemState, TargetState } from '../plan/types.js';
import { AGENT_SCRIPT } from './script.js';

/** Every command takes data as positional arguments: no node-controlled string is parsed by a shell.
 *  Files in the run dir: before (state when recorded), goal, profile-set (the generation link fleet made),
 *  switch-started, <action>.log (the switch's own output), <action>.status (written last, atomically). */
export { AGENT_SCRIPT };

const agent = (command: string, ...args: string[]): string[] => ['sh', '-c', AGENT_SCRIPT, 'fleet-agent', command, ...args];

/** Where the agent keeps one run's state for one node; in /run, so a reboot clears it. */
export function runDir(runId: string, node: string): string {
  return `/run/fleet/${runId}/${node}`;
}

/** lockArgs (src/agent/lock.ts): take or read the target's lock in the same call, before reading the state.
 *  stateDir: also read the deploy records kept there, whether a reboot is due and the profile's generations. */
export function probeArgv(profile: string, outPath: string, lockArgs: readonly string[] = [], stateDir = '', generations = false): string[] {
  return agent('probe', profile, outPath, stateDir, generations ? '1' : '0', ...lockArgs);
}

/** `generation=system-5-link /nix/store/...` lines → generation number → the system it holds. */
export function parseGenerations(stdout: string): Map<number, string> {
  const generations = new Map<number, string>();
  for (const m of stdout.matchAll(/^generation=(\S+) (\/\S+)$/gm)) {
    const n = generationOf(m[1]);
    if (n !== undefined) generations.set(n, m[2]!);
  }
  return generations;
}

/** Appends `line` (one JSON record, src/records) to `<stateDir>/records`, keeping the newest `keep`. */
export function recordArgv(stateDir: string, line: string, keep: number): string[] {
  return agent('record', stateDir, line, String(keep));
}

export interface Detach {
  seconds: number; // the switch's own deadline on the target
  systemd: boolean; // detach with systemd-run (a transient unit) or setsid
  unit: string; // the unit name when systemd
}

/** Magic rollback: the watchdog's window after the live activation, and the token that alone confirms it. */
export interface Watchdog {
  seconds: number;
  token: string;
}

/** setProfile: a new generation (true), none (false), or exactly this existing generation (fleet rollback). */
export function activateArgv(dir: string, profile: string, outPath: string, goal: string, setProfile: boolean | number, checkSystem: boolean, d: Detach, watchdog?: Watchdog): string[] {
  return agent('activate', dir, profile, outPath, goal, typeof setProfile === 'number' ? `gen-${setProfile}` : setProfile ? '1' : '0', checkSystem ? '1' : '0', String(d.seconds), d.systemd ? '1' : '0', d.unit,
    String(watchdog?.seconds ?? 0), watchdog?.token ?? '', AGENT_SCRIPT);
}

/** The rollback runs the copy of the agent (and the data) the activation left in its run dir. */
export function rollbackArgv(dir: string, d: Pick<Detach, 'systemd' | 'unit'>): string[] {
  return agent('rollback', dir, d.systemd ? '1' : '0', d.unit);
}

/** Sent over a brand-new connection: the watchdog of `dir` accepts only the token it was armed with. The reply
 *  is `wait confirm`'s (reportToken, profile: as waitArgv's), with the verdict once it comes within 10 s. */
export function confirmArgv(dir: string, token: string, reportToken: string, profile: string): string[] {
  return agent('confirm', dir, token, reportToken, profile);
}

export type Action = 'activate' | 'confirm' | 'rollback';

/** A per-call random token separates the action's output (before it) from the agent's report (after it). */
export function waitArgv(dir: string, action: Action, seconds: number, linesSeen: number, token: string, profile: string): string[] {
  return agent('wait', dir, action, String(seconds), String(linesSeen), token, profile);
}

export function newToken(): string {
  return `@fleet-report-${randomBytes(12).toString('hex')}`;
}

/** One per node and run: what the watchdog waits for. */
export function newConfirmToken(): string {
  return randomBytes(16).toString('hex');
}

/** What the agent wrote about an action, and what the node runs now. */
export interface AgentReport {
  /** '' while running. activate: done | refused | profile-failed N | switch-failed N | detach-failed;
   *  confirm: done | expired | profile-failed N | boot-failed N | superseded; rollback: done | failed <why>. */
  status: string;
  before: SystemState;
  profileSet?: string; // the generation link this run made
  switchStarted: boolean;
  /** The watchdog's verdict once it has one (magic rollback): done | expired | ... */
  confirmStatus?: string;
  now: SystemState;
  lines: number; // log lines streamed so far: where to go on after a reconnect
}

/** Splits `wait` output at the token: log lines before it, the report after. undefined: no token seen. */
export function parseWait(stdout: string, token: string): { log: string[]; report?: AgentReport } {
  const lines = stdout.split('\n');
  // The agent prints its token last: anything before it (a forged copy included) is the action's output.
  const at = lines.lastIndexOf(token);
  const log = (at < 0 ? lines : lines.slice(0, at)).filter((l) => l.trim() !== '');
  if (at < 0) return { log };
  const values = readKeyValues(lines.slice(at + 1));
  const pick = (prefix: string) => new Map([...values].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const profileSet = values.get('profileSet');
  const confirmStatus = values.get('confirmStatus');
  return {
    log,
    report: {
      status: values.get('status') ?? '',
      before: toSystemState(pick('before.')),
      ...(profileSet ? { profileSet } : {}),
      switchStarted: values.get('switchStarted') === '1',
      ...(confirmStatus ? { confirmStatus } : {}),
      now: toSystemState(pick('now.')),
      lines: Number(values.get('lines') ?? 0) || 0,
    },
  };
}

export function parseProbe(stdout: string): TargetState {
  const values = readKeyValues(stdout.split('\n'));
  return { hasOut: values.get('hasOut') === '1', ...toSystemState(values), systemd: values.get('systemd') === '1' };
}

function readKeyValues(lines: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return values;
}

export function generationOf(link: string | undefined): number | undefined {
  const m = link ? /-(\d+)-link$/.exec(link) : null;
  return m ? Number(m[1]) : undefined;
}

function toSystemState(values: Map<string, string>): SystemState {
  const link = values.get('profileLink');
  const generation = generationOf(link);
  const current = values.get('currentSystem');
  const booted = values.get('bootedSystem');
  return {
    ...(link ? { profileLink: link } : {}),
    ...(link && values.get('profileTarget') ? { profileTarget: values.get('profileTarget') } : {}),
    ...(generation !== undefined ? { generation } : {}),
    ...(current ? { currentSystem: current } : {}),
    ...(booted ? { bootedSystem: booted } : {}),
  };
}
