// The agent client of one node: the only module that builds the agent's argv, and the one place its replies are
// read into types (statuses, reports, lock answers, failures). One per node, over the node's Target.
import { randomBytes } from 'node:crypto';
import type { ResolvedNode } from '../config/types.js';
import type { Goal } from '../goal.js';
import type { TargetState } from './state.js';
import { failureReason, type CommandResult } from '../transport/run.js';
import type { Target } from '../transport/target.js';
import { lockPath, parseLockReply, type LockIdentity, type LockOp, type LockReply } from './lock.js';
import { EXIT, exitName, parseReport, readValues, toSystemState, generationOf, type Action, type ActivateStatus, type ConfirmStatus, type ExitName, type Report, type RollbackStatus, type StatusOf } from './protocol.js';
import { AGENT_SCRIPT } from './script.js';
import { RECORDS_KEPT } from '../records/record.js';

/** What an agent command that returns at once (it detaches anything long) may take beyond connecting. */
export const AGENT_CALL_MS = 30_000;
/** How long past its own wait an agent call may take (connecting, escalating, the report). */
const WAIT_SLACK_MS = 15_000;

// The agent's text is data: eval'd from an argument, so it can also write itself into the run dir.
const WRAPPER = 'AGENT=$1; shift; eval "$AGENT"';
type Args = Record<string, string | number | boolean | undefined>;

function argv(command: string, args: Args): string[] {
  const words: string[] = [];
  for (const [name, value] of Object.entries(args)) {
    if (value === undefined) continue;
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    // The agent keeps some values in files of one value a line.
    if (text.includes('\n')) throw new Error(`fleet-agent ${command}: ${name} holds a newline`);
    words.push(`${name}=${text}`);
  }
  return ['sh', '-c', WRAPPER, 'fleet-agent', AGENT_SCRIPT, command, ...words];
}

/** Where the agent keeps one run's state for one node; in /run, so a reboot clears it. */
export function runDir(runId: string, node: string): string {
  return `/run/fleet/${runId}/${node}`;
}

/** A per-call random token separates an action's output (before it) from the agent's report (after it). */
export function newToken(): string {
  return `@fleet-report-${randomBytes(12).toString('hex')}`;
}

/** One per node and run: what the watchdog waits for. */
export function newConfirmToken(): string {
  return randomBytes(16).toString('hex');
}

/** Why an agent call brought no (complete) answer. */
export type AgentFailure =
  /** The lock is not this run's, or could not be checked: the agent changed nothing. */
  | { kind: 'lock'; lock?: LockReply; reason: string }
  /** The agent's own refusal (an EXIT code). */
  | { kind: 'agent'; exit: ExitName; reason: string }
  /** ssh could not get through, the connection dropped or the call timed out: the agent may have run. */
  | { kind: 'cut'; reason: string }
  /** Anything else before the agent ran (sudo, a missing shell): it did not. */
  | { kind: 'refused'; reason: string };

/** An action's reply: its output, and the agent's report once it gave one. */
export interface Reply<S> {
  /** The agent began the action (activate, rollback): a cut after this leaves the node's state unknown. */
  started: boolean;
  /** The action's output lines in this reply. */
  log: string[];
  /** Log lines streamed so far (counting earlier calls): where the next wait goes on. */
  seen: number;
  report?: Report<S>;
  failure?: AgentFailure;
  /** confirm: from spawning ssh to the agent's first line (the new connection's cost right now). */
  connectMs?: number;
}

/** How the agent detaches a long action: a transient unit under systemd, else setsid. */
export interface ActivateCall {
  outPath: string;
  goal: Goal;
  /** A new generation (true), none (false), or exactly this existing generation (fleet rollback). */
  setProfile: boolean | number;
  checkSystem: boolean;
  systemd: boolean;
  /** Magic rollback: the watchdog's window after the live activation, and the token that alone confirms it. */
  watchdog?: { seconds: number; token: string };
  /** How long this call waits for the activation to end (the report comes back without a status otherwise). */
  waitSeconds: number;
  onLine?: (line: string) => void;
}

export interface ProbeQuery {
  outPath: string;
  /** With the lock: read it (plan, status), or take it (apply, as this client's run), in the same round trip. */
  lock?: Extract<LockOp, 'read' | 'take' | 'break'>;
  /** With `take`: a node already on `outPath` for this goal has its lock only read (apply leaves it unchanged). */
  readIfCurrent?: Goal;
  /** Also the deploy records (the newest `newest`, default RECORDS_KEPT) and whether a reboot is due; 'generations': and the profile's generations. */
  records?: boolean | 'generations';
  newest?: number;
  signal?: AbortSignal;
  /** Over a connection of its own unless a master is up (a large fleet's probe). */
  withoutMaster?: boolean;
}

export type ProbeResult = { ok: true; state: TargetState; stdout: string; lock?: LockReply } | { ok: false; reason: string; stderr: string };

export interface FinishResult {
  /** The record was written (absent: none was asked for). */
  recorded?: boolean;
  recordError?: string;
  lock?: LockReply;
  failure?: AgentFailure;
}

export interface AgentClient {
  readonly target: Target;
  readonly node: ResolvedNode;
  /** This run's dir on the node. */
  readonly dir: string;
  probe(query: ProbeQuery): Promise<ProbeResult>;
  /** Checks (and renews) the lock, records what runs, starts the activation detached and waits for its end. */
  activate(call: ActivateCall): Promise<Reply<ActivateStatus>>;
  /** Over a brand-new connection: hands the watchdog its token; the verdict comes back when it is quick. */
  confirm(token: string, options: { timeoutMs: number; onLine?: (line: string) => void }): Promise<Reply<ConfirmStatus>>;
  /** Checks the lock, then undoes this run's changes (once), waiting for the end as activate does. */
  rollback(options: { systemd: boolean; waitSeconds: number; onLine?: (line: string) => void }): Promise<Reply<RollbackStatus>>;
  /** An action's log from line `seen`, until it ends or `seconds` pass; then the report. */
  wait<A extends Action>(action: A, options: { seconds: number; seen: number; onLine?: (line: string) => void }): Promise<Reply<StatusOf[A]>>;
  /** The node's last call of a run: a deploy record (one JSON line) into stateDir, and/or the release of the lock. */
  finish(options: { record?: { stateDir: string; line: string; keep: number }; release: boolean }): Promise<FinishResult>;
  lock(op: 'renew' | 'release'): Promise<{ reply?: LockReply; reason: string }>;
  /** Checks the lock, then asks for a reboot a second later (detached, under systemd a transient timer). */
  reboot(options: { systemd: boolean }): Promise<{ failure?: AgentFailure }>;
}

/** run.id: this run (its run dir, units); run.lock: who it is in lock records (apply, rollback). */
export function createAgentClient(target: Target, run: { id?: string; lock?: LockIdentity } = {}): AgentClient {
  const { node } = target;
  const dir = runDir(run.id ?? '-', node.name);
  const unit = (action: Action) => `fleet-${run.id ?? '-'}-${node.name}-${action}`;
  const short = { timeoutMs: node.connectTimeoutMs + AGENT_CALL_MS };
  const waiting = (seconds: number) => ({ timeoutMs: seconds * 1000 + node.connectTimeoutMs + WAIT_SLACK_MS });
  const lockArgs = (op?: LockOp): Args => {
    const id = run.lock;
    if (!id) return {};
    return { 'lock-op': op, lock: lockPath(node.profile), run: id.run, by: id.by, pid: id.pid, 'lock-seconds': Math.max(1, Math.ceil(node.lockTimeoutMs / 1000)) };
  };
  const needRun = () => {
    if (run.id === undefined) throw new Error(`agent client of ${node.name}: no run id`);
  };

  /** Runs a waiting command; reads the marker, the output and the report after the call's token. */
  const action = async <A extends Action>(which: A, seen: number, send: (token: string, onLine: (line: string) => void) => Promise<CommandResult>, onLine?: (line: string) => void): Promise<Reply<StatusOf[A]>> => {
    const token = newToken();
    const r = await send(token, outputUntil(token, onLine));
    return readAction(node.name, which, r, token, seen);
  };

  return {
    target,
    node,
    dir,
    async probe(query) {
      const escalate = query.lock === 'take' || query.lock === 'break';
      const args = argv('probe', {
        ...(query.lock ? lockArgs(query.lock) : {}),
        ...(query.lock === 'take' && query.readIfCurrent ? { 'lock-unless-current': true, goal: query.readIfCurrent } : {}),
        profile: node.profile, out: query.outPath,
        ...(query.records ? { 'state-dir': node.stateDir, generations: query.records === 'generations', 'records-newest': query.newest ?? RECORDS_KEPT } : {}),
      });
      const options = { ...short, ...(query.signal ? { signal: query.signal } : {}), ...(query.withoutMaster ? { withoutMaster: true } : {}) };
      // Taking a lock writes to /run: the probe escalates then; reading is the SSH user's.
      const r = escalate ? await target.runPrivileged(args, options) : await target.run(args, options);
      if (r.failed) return { ok: false, reason: failureReason(r), stderr: r.stderr };
      const values = readValues(node.name, r.stdout.split('\n'));
      const state: TargetState = { hasOut: values.get('hasOut') === '1', ...toSystemState(values), systemd: values.get('systemd') === '1' };
      const lock = query.lock ? parseLockReply(r.stdout) : undefined;
      return { ok: true, state, stdout: r.stdout, ...(lock ? { lock } : {}) };
    },
    activate(call) {
      needRun();
      const setProfile = typeof call.setProfile === 'number' ? `gen-${call.setProfile}` : call.setProfile ? 'new' : 'none';
      return action('activate', 0, (token, onLine) => target.runPrivileged(argv('activate', {
        ...lockArgs(), dir, profile: node.profile, out: call.outPath, goal: call.goal, 'set-profile': setProfile, 'check-system': call.checkSystem,
        seconds: switchSeconds(node), systemd: call.systemd, unit: unit('activate'),
        'confirm-seconds': call.watchdog?.seconds ?? 0, 'confirm-token': call.watchdog?.token, report: token, wait: call.waitSeconds,
      }), { ...waiting(call.waitSeconds), onLine }), call.onLine);
    },
    async confirm(token, options) {
      needRun();
      const since = Date.now();
      let connectMs: number | undefined;
      const r = await action('confirm', 0, (report, onLine) => target.runFresh(argv('confirm', { dir, 'confirm-token': token, report, wait: CONFIRM_WAIT_SECONDS, profile: node.profile }), {
        timeoutMs: options.timeoutMs,
        onLine: (line) => {
          connectMs ??= Date.now() - since;
          onLine(line);
        },
      }), options.onLine);
      return connectMs === undefined ? r : { ...r, connectMs };
    },
    rollback(options) {
      needRun();
      return action('rollback', 0, (token, onLine) => target.runPrivileged(argv('rollback', {
        ...lockArgs(), dir, systemd: options.systemd, unit: unit('rollback'), report: token, wait: options.waitSeconds, profile: node.profile,
      }), { ...waiting(options.waitSeconds), onLine }), options.onLine);
    },
    wait(which, options) {
      needRun();
      return action(which, options.seen, (token, onLine) => target.run(argv('wait', {
        dir, action: which, seen: options.seen, report: token, wait: options.seconds, profile: node.profile,
      }), { ...waiting(options.seconds), onLine }), options.onLine);
    },
    async finish(options) {
      const record = options.record;
      const r = await target.runPrivileged(argv('finish', {
        ...(record ? { 'state-dir': record.stateDir, record: record.line, keep: record.keep } : {}),
        ...(options.release ? lockArgs('release') : {}),
      }), short);
      if (r.failed) return { failure: failureOf(r) };
      const values = readValues(node.name, r.stdout.split('\n'));
      const lock = parseLockReply(r.stdout);
      const recordError = values.get('recordError');
      return {
        ...(record ? { recorded: values.get('recorded') === '1' } : {}),
        ...(recordError ? { recordError } : {}),
        ...(lock ? { lock } : {}),
      };
    },
    async reboot(options) {
      needRun();
      const r = await target.runPrivileged(argv('reboot', { ...lockArgs(), systemd: options.systemd, unit: `fleet-${run.id}-${node.name}-reboot` }), short);
      if (r.failed) return { failure: failureOf(r) };
      readValues(node.name, r.stdout.split('\n'));
      return /^rebootRequested=1$/m.test(r.stdout) ? {} : { failure: { kind: 'refused', reason: 'the agent did not ask for the reboot' } };
    },
    async lock(op) {
      // A lone question: it opens no master (a renewal between stages, a release at the end).
      const r = await target.runPrivileged(argv('lock', lockArgs(op)), { ...short, withoutMaster: true }).catch((error: unknown) => error as Error);
      if (r instanceof Error) return { reason: r.message };
      if (!r.failed) readValues(node.name, r.stdout.split('\n'));
      const reply = parseLockReply(r.stdout);
      return { ...(reply ? { reply } : {}), reason: r.failed ? failureReason(r) : '' };
    },
  };
}

/** The confirmation waits this long on its own connection for the watchdog's verdict (and the boot step). */
const CONFIRM_WAIT_SECONDS = 10;

/** The switch's own deadline on the target. */
export function switchSeconds(node: Pick<ResolvedNode, 'activationTimeoutMs'>): number {
  return Math.max(1, Math.ceil(node.activationTimeoutMs / 1000));
}

function failureOf(r: CommandResult): AgentFailure {
  const reason = failureReason(r);
  if (r.exitCode === EXIT.lock) return { kind: 'lock', ...withLock(r.stdout), reason };
  const exit = exitName(r.exitCode);
  if (exit) return { kind: 'agent', exit, reason };
  // 255: ssh's own failure; no exit code: killed (a timeout) or interrupted.
  if (r.exitCode === 255 || r.exitCode === undefined || r.timedOut) return { kind: 'cut', reason };
  return { kind: 'refused', reason };
}

const withLock = (stdout: string) => {
  const lock = parseLockReply(stdout);
  return lock ? { lock } : {};
};

/** --verbose: the action's output lines as they come (not the start marker), up to the report's token. */
function outputUntil(token: string, onLine?: (line: string) => void): (line: string) => void {
  let afterToken = false;
  return (line) => {
    if (line === token) afterToken = true;
    else if (!afterToken && line !== `${token} started` && line.trim() !== '') onLine?.(line);
  };
}

/** Splits an action's reply: the start marker (its first line), the output, and the report after the last token. */
function readAction<A extends Action>(node: string, action: A, r: CommandResult, token: string, seen: number): Reply<StatusOf[A]> {
  const lines = r.stdout.split('\n');
  const started = lines[0] === `${token} started`;
  const body = started ? lines.slice(1) : lines;
  // The agent prints its token last: anything before it (a forged copy included) is the action's output.
  const at = body.lastIndexOf(token);
  if (at >= 0) {
    const report = parseReport(node, action, body.slice(at + 1));
    return { started, log: body.slice(0, at).filter((l) => l.trim() !== ''), seen: report.lines, report };
  }
  // No report: the raw lines that came, as the agent counts them (a last line without its newline does not count).
  const complete = body.slice(0, -1);
  const failure = r.failed ? failureOf(r) : { kind: 'cut' as const, reason: 'the agent\'s reply ended before its report' };
  return { started, log: complete.filter((l) => l.trim() !== ''), seen: seen + complete.length, failure };
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
