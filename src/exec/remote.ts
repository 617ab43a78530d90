// What `fleet exec` runs on a target, and how it reads the end: the command runs under coreutils `timeout`, which
// bounds it on the target itself (killing the local ssh client ends neither the remote command nor, over a master,
// its session) and leads its process group; a first line names that leader so that Ctrl+C can end the group with
// one `kill` over the master.
import { randomBytes } from 'node:crypto';
import type { ExecResult } from '../events.js';
import { KILL_AFTER_S } from '../transport/deadline.js';

// The transport's own remote deadline (src/transport/deadline.ts) bounds the ssh command from outside, and outside
// sudo; this one is inside the escalation and leads the command's own process group, which Ctrl+C ends by its pid.
// $1 the marker, $2 the limit in seconds (0: none); the rest is the command. `exec` keeps the shell's pid, so the
// pid printed is timeout's: it calls setpgid(0, 0), and on SIGTERM passes the signal to its whole group, then
// SIGKILL after -k (for its own limit and for a signal it receives alike).
const WRAPPER = `printf '%s %s\\n' "$1" "$$"; t=$2; shift 2; exec timeout -k ${KILL_AFTER_S} "$t" "$@"`;

/** One per node and run: the first stdout line carries it, so no output of the command can pass for it. */
export function newMarker(): string {
  return `@fleet-exec-${randomBytes(12).toString('hex')}`;
}

/** The argv the target runs (quoted for its shell by the transport, like any other). */
export function remoteArgv(command: readonly string[], marker: string, timeoutMs?: number): string[] {
  if (command.length === 0) throw new Error('fleet exec: empty command');
  return ['sh', '-c', WRAPPER, 'fleet-exec', marker, limitSeconds(timeoutMs), ...command];
}

/** timeout(1)'s duration: seconds with up to 3 decimals; 0 disables it. */
export function limitSeconds(timeoutMs: number | undefined): string {
  if (timeoutMs === undefined) return '0';
  return String(Math.max(1, Math.round(timeoutMs)) / 1000);
}

/** The leader's pid from the marker line, or undefined when the line is not it. */
export function markerPid(line: string, marker: string): number | undefined {
  const m = line.startsWith(`${marker} `) ? /^(\d+)$/.exec(line.slice(marker.length + 1)) : null;
  return m ? Number(m[1]) : undefined;
}

/** Ends the command's process group: timeout passes SIGTERM on, and sends SIGKILL KILL_AFTER_S seconds later. */
export function killArgv(pid: number): string[] {
  return ['kill', '-TERM', String(pid)];
}

/** How the local side saw the command end. */
export interface Ending {
  exitCode: number | undefined;
  /** The marker line came: the command started on the target. */
  started: boolean;
  /** The run's own limit fired (the target did not end it in time). */
  timedOut: boolean;
  /** This node's command was ended by Ctrl+C. */
  interrupted: boolean;
  durationMs: number;
  /** --timeout, when given. */
  timeoutMs?: number;
  /** The last lines it wrote to stderr (ssh's own words when it could not get through). */
  stderr: string[];
}

/** Exits when timeout(1)'s limit ended the command: 124 (SIGTERM sufficed); after -k its SIGKILL to the group
 *  kills timeout too: 137 from a shell, 255 from ssh (the session ended by a signal). */
const TIMED_OUT_EXITS = [124, 137, 255];
const KILLED_EXITS = [137, 255];

/** From how it ended to the node's result. */
export function execResult(end: Ending): ExecResult {
  const said = end.stderr.slice(-3).map((l) => l.trim()).filter(Boolean).join('; ');
  const code = end.exitCode !== undefined ? { exitCode: end.exitCode } : {};
  const duration = end.started ? { durationMs: end.durationMs } : {};
  if (end.interrupted) return { outcome: 'interrupted', ...code, ...duration, error: 'interrupted (Ctrl+C): the command was ended on the node' };
  const limit = end.timeoutMs !== undefined ? `${end.timeoutMs / 1000}s` : '';
  // 124 from the command itself is not a timeout: only after the limit has passed is it timeout's.
  if (end.timedOut || (end.timeoutMs !== undefined && TIMED_OUT_EXITS.includes(end.exitCode ?? -1) && end.durationMs >= end.timeoutMs)) {
    return { outcome: 'timed-out', ...code, ...duration, error: `timed out after ${limit}: ended on the node${KILLED_EXITS.includes(end.exitCode ?? -1) ? ' (SIGKILL: it ignored SIGTERM)' : ''}` };
  }
  if (end.exitCode === 0) return { outcome: 'ok', exitCode: 0, ...duration };
  // ssh exits 255 when it cannot get through; before the marker, the command never ran.
  if (!end.started && (end.exitCode === 255 || end.exitCode === undefined)) return { outcome: 'unreachable', error: said || 'the SSH connection failed' };
  if (!end.started) return { outcome: 'failed', ...code, error: `did not start (exit ${end.exitCode})${said ? `: ${said}` : ''}` };
  return { outcome: 'failed', ...code, ...duration, error: `exit ${end.exitCode}` };
}
