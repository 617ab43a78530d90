// `fleet exec`: one command on the selected nodes, --parallel at once, each bounded on its target; staged like a
// rollout when asked (the plan's waves, each wave's failure budget). Ctrl+C starts nothing new and ends the
// commands that run, on the targets. A node's problem never fails the run: it is that node's result.
import pLimit from 'p-limit';
import type { ResolvedNode } from '../config/types.js';
import type { EmitEvent, ExecResult } from '../events.js';
import { waveVerdict, type Wave } from '../rollout/waves.js';
import type { HostPool } from '../transport/pool.js';
import type { RunOptions } from '../transport/run.js';
import { countOf } from '../util/text.js';
import { fleetVersion } from '../version.js';
import { KILL_AFTER_S } from '../transport/deadline.js';
import { execResult, killArgv, markerPid, newMarker, remoteArgv } from './remote.js';
import { execExitCode, groupResults } from './summary.js';

export interface ExecInput {
  /** The selected nodes, in fleet-file order. */
  nodes: readonly ResolvedNode[];
  /** The argv each node runs (--shell TEXT: sh -c TEXT). */
  command: string[];
  /** Through each node's privilege escalation (as activation), the run's sudo password on stdin only. */
  sudo: boolean;
  /** Per node; kept on the target itself (timeout -k). */
  timeoutMs?: number;
  parallel: number;
  /** Staged (--waves, --max-failures): the waves in order; absent: every node at once (--parallel). */
  waves?: readonly Wave[];
  pool: Pick<HostPool, 'targetOf'>;
  emit: EmitEvent;
  /** Ctrl+C / SIGTERM. */
  signal: AbortSignal;
}

export interface ExecRun {
  exitCode: number;
  interrupted: boolean;
  nodes: Record<string, ExecResult>;
}

/** How long fleet waits for a command it asked the target to end before it stops waiting for its ssh. */
const END_GRACE_MS = (KILL_AFTER_S + 5) * 1000;
/** What the remote `kill` may take beyond connecting. */
const KILL_CALL_MS = 10_000;

export async function execFleet(input: ExecInput): Promise<ExecRun> {
  const startedAt = Date.now();
  const { emit, signal } = input;
  const names = input.nodes.map((n) => n.name);
  const byName = new Map(input.nodes.map((n) => [n.name, n]));
  emit({ type: 'exec-start', command: input.command, sudo: input.sudo, ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}), nodes: names, fleetVersion: fleetVersion() });
  const results = new Map<string, ExecResult>();
  const finish = (name: string, r: ExecResult): ExecResult => {
    results.set(name, r);
    emit({ type: 'exec-done', node: name, ...r });
    return r;
  };
  const limit = pLimit(input.parallel);
  const skipped: ExecResult = { outcome: 'skipped', error: 'interrupted before it started' };
  const waves = input.waves ?? [{ nodes: names, maxFailures: names.length }];

  for (const [index, wave] of waves.entries()) {
    if (signal.aborted) {
      for (const name of wave.nodes) finish(name, skipped);
      continue;
    }
    if (input.waves) emit({ type: 'wave-start', wave: index + 1, nodes: wave.nodes });
    const ended = await Promise.all(wave.nodes.map((name) => limit(async () => finish(name, signal.aborted ? skipped : await execNode(byName.get(name)!, input)))));
    if (!input.waves) continue;
    const failures = ended.filter((r) => r.outcome !== 'ok').length;
    const verdict = waveVerdict(failures, wave, signal.aborted);
    emit({ type: 'wave-done', wave: index + 1, failures, verdict });
    if (verdict !== 'failed') continue;
    const held: ExecResult = { outcome: 'held', error: `not started: wave ${index + 1} failed (${countOf(failures, 'failure')}, ${wave.maxFailures} allowed)` };
    for (const name of waves.slice(index + 1).flatMap((w) => w.nodes)) finish(name, held);
    break;
  }

  const interrupted = signal.aborted;
  const nodes = Object.fromEntries(names.map((name) => [name, results.get(name)!]));
  const exitCode = execExitCode(Object.values(nodes), interrupted);
  emit({ type: 'exec-summary', exitCode, durationMs: Date.now() - startedAt, interrupted, nodes, groups: groupResults(names, results) });
  return { exitCode, interrupted, nodes };
}

/** The command on one node: connect (a failure is `unreachable`), run it wrapped, read how it ended. */
async function execNode(node: ResolvedNode, input: ExecInput): Promise<ExecResult> {
  const { emit, signal } = input;
  const target = input.pool.targetOf(node);
  try {
    await target.host.connect();
  } catch (error) {
    // Ctrl+C cancels connects: such a node never started.
    if (signal.aborted) return { outcome: 'skipped', error: 'interrupted before it started' };
    return { outcome: 'unreachable', error: error instanceof Error ? error.message : String(error) };
  }
  if (signal.aborted) return { outcome: 'skipped', error: 'interrupted before it started' };
  const run = (argv: string[], options: RunOptions) => (input.sudo ? target.runPrivileged(argv, options) : target.run(argv, options));
  const marker = newMarker();
  const local = new AbortController(); // stops waiting for the ssh client: only after the target was asked to end it
  const stderr: string[] = [];
  let pid: number | undefined;
  let began = Date.now();
  let interrupted = false;
  let ending: Promise<unknown> | undefined;

  // Ctrl+C: the command's process group on the target gets SIGTERM (as the same user), SIGKILL 5 s later from timeout.
  const endRemote = () => {
    if (ending || pid === undefined) return;
    ending = run(killArgv(pid), { timeoutMs: node.connectTimeoutMs + KILL_CALL_MS });
    setTimeout(() => local.abort(), END_GRACE_MS).unref();
  };
  const onAbort = () => {
    interrupted = true;
    endRemote();
    // Not started yet: its marker (and pid) may still come, and ends it then; else stop waiting after a while.
    if (pid === undefined) setTimeout(() => local.abort(), node.connectTimeoutMs + END_GRACE_MS).unref();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const onOutput = (line: string, stream: 'stdout' | 'stderr') => {
    if (pid === undefined && stream === 'stdout') {
      const found = markerPid(line, marker);
      if (found !== undefined) {
        pid = found;
        began = Date.now();
        if (interrupted) endRemote();
        return;
      }
    }
    if (stream === 'stderr' && stderr.push(line) > 3) stderr.shift(); // the last lines say why it failed
    emit({ type: 'exec-output', node: node.name, stream, line });
  };
  // The local limit only backs up the target's own: past it, its ssh no longer answers at all.
  const limitMs = input.timeoutMs !== undefined ? input.timeoutMs + END_GRACE_MS + node.connectTimeoutMs : undefined;
  try {
    const r = await run(remoteArgv(input.command, marker, input.timeoutMs), { onOutput, signal: local.signal, ...(limitMs !== undefined ? { timeoutMs: limitMs } : {}) });
    await ending;
    return execResult({
      exitCode: r.exitCode, started: pid !== undefined, timedOut: r.timedOut, interrupted, durationMs: Date.now() - began, stderr,
      ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
