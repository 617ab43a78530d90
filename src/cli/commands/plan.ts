// `fleet plan`: evaluate and ask the targets (read-only), then print what apply would do.
import type { ResolvedNode } from '../../config/types.js';
import type { LoadedKeys } from '../../keys/sources.js';
import { ExitCode } from '../../errors.js';
import type { EmitEvent } from '../../events.js';
import type { Plan } from '../../plan/types.js';
import type { HostPool } from '../../transport/pool.js';
import type { Goal } from '../../goal.js';
import { resolveRolloutOptions, type RolloutFlags } from '../../rollout/options.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import { errorLines } from '../../util/terminal-text.js';
import { printLine, type CliIo } from '../io.js';
import { commentId, outputFormat } from '../output-format.js';
import type { Session } from '../session.js';

export interface PlanOptions extends FileOptions, Pick<RolloutFlags, 'waves' | 'maxFailures'> {
  on?: string;
  json?: boolean;
  /** --format: text (default), json (as --json) or markdown (a pull-request comment). */
  format?: 'text' | 'json' | 'markdown';
  /** --exit-code: also exit 1 when apply would change a node. */
  exitCode?: boolean;
  force?: boolean;
  showTrace?: boolean;
  /** For the keys' hashes (root's to read) on targets where sudo wants a password. */
  askSudoPassword?: boolean;
  /** --probe-parallel: targets asked at once. */
  probeParallel?: number;
}

export async function runPlan(goal: Goal, options: PlanOptions, io: CliIo, signal: AbortSignal, session?: Session): Promise<number> {
  const format = outputFormat(options);
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  const [{ evaluateFleet }, { probeAndPlan }, { formatPlan }, { fleetVersion }, { withEventOutput }, { readOnlyLock }, { diffPlannedNodes }, { changingNodes }, { formatPlanMarkdown }] = await Promise.all([
    import('../../evaluate/evaluate.js'), import('../../prepare/prepare.js'), import('../../plan/format.js'), import('../../version.js'), import('../../ui/json.js'),
    import('../../lock/take.js'), import('../../diff/plan-summary.js'), import('../../plan/changes.js'), import('../../ui/plan-markdown.js'),
  ]);
  // Key sources are read as apply reads them, before any target is asked: one that fails ends the plan (exit 2).
  const [{ uploadsKeys }, { loadFleetKeys }] = await Promise.all([import('../../keys/stage.js'), import('../../keys/sources.js')]);
  const keys = uploadsKeys(goal) ? await loadFleetKeys(fleet, nodes, io.env, signal) : undefined;
  // Keys are root's to read, even as hashes: sudo may want its password (--ask-sudo-password, FLEET_SUDO_PASSWORD_FILE).
  const sudoPassword = keys ? await (await import('../password.js')).sudoPasswordFor(nodes, !!options.askSudoPassword, io) : undefined;
  const started = Date.now();
  // --json: the same event stream as apply (run-start, phases, plan, node-done for failures, summary).
  return withEventOutput(io.stdout, format === 'json', ({ runId, emit }) => withHosts(io, signal, async (pool, runLocal) => {
    emit({ type: 'run-start', command: 'plan', goal, nodes: nodes.map((n) => n.name), fleetVersion: fleetVersion() });
    // Read-only: the probe reads each target's lock record (unprivileged), never takes one.
    const lock = readOnlyLock(runId);
    // A plan never pauses or asks: `canAsk` only keeps `pause: confirm` from being refused here.
    const rollout = resolveRolloutOptions(fleet.rollout, { waves: options.waves, maxFailures: options.maxFailures }, true);
    const prepare = { goal, force: !!options.force, showTrace: !!options.showTrace, run: runLocal, pool, emit, signal, lock, rollout };
    const prepared = await probeAndPlan(fleet, await evaluateFleet(fleet, nodes, prepare), prepare);
    emit({ type: 'plan', plan: prepared.plan });
    // Read-only and builds nothing: a diff only where the new system already is (see diff/plan-summary.ts).
    const diffs = await diffPlannedNodes(fleet, nodes, prepared, { runId, goal, showTrace: !!options.showTrace, run: runLocal, pool, emit, signal });
    for (const g of diffs.groups) emit({ type: 'diff', ...g });
    // The keys this plan's apply would upload, compared by hash on each planned node (read-only).
    const keyNotes = keys ? await planKeysOf(nodes, keys, prepared.plan, pool, emit, signal) : { notes: {}, changing: [] };
    for (const f of prepared.failures) emit({ type: 'node-done', node: f.node, outcome: 'failed', error: f.message });
    if (format === 'text') printLine(io.stdout, formatPlan(prepared.plan, diffs.notes, keyNotes.notes));
    if (format === 'markdown') {
      const marker = commentId(fleet.file, io.cwd, goal, options.on);
      printLine(io.stdout, formatPlanMarkdown({ marker, plan: prepared.plan, groups: diffs.groups, notes: diffs.notes, failures: prepared.failures }));
    }
    if (format !== 'json') for (const f of prepared.failures) printLine(io.stderr, errorLines(f.message));
    // --exit-code: 1 also when apply would change something ("deploy only if needed").
    const changes = !!options.exitCode && (changingNodes(prepared.plan).length > 0 || keyNotes.changing.length > 0);
    const exitCode = prepared.failures.length || changes ? ExitCode.nodesFailed : ExitCode.ok;
    // A plan changes nothing: the summary names only the nodes that could not be planned.
    const results = Object.fromEntries(prepared.failures.map((f) => [f.node, { outcome: 'failed' as const, error: f.message }]));
    emit({ type: 'summary', command: 'plan', goal, exitCode, durationMs: Date.now() - started, interrupted: signal.aborted, nodes: results });
    return exitCode;
  }, sudoPassword, { ...(options.probeParallel ? { probes: options.probeParallel } : {}) }), session?.onQuit);
}

/** The planned nodes' keys against their targets (not those another run holds). */
async function planKeysOf(nodes: readonly ResolvedNode[], keys: LoadedKeys, plan: Plan, pool: HostPool, emit: EmitEvent, signal: AbortSignal): Promise<{ notes: Record<string, string>; changing: string[] }> {
  const { planKeys } = await import('../../keys/inspect.js');
  const planned = new Set(plan.nodes.filter((n) => !(n.lock?.state === 'held' && !n.lock.expired)).map((n) => n.name));
  return planKeys(pool, nodes.filter((n) => planned.has(n.name)), keys, emit, signal);
}
