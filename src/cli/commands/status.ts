// `fleet status`: what runs where, against what the fleet file wants; a table, or NDJSON with --json;
// `--watch`: the table refreshed in place on the terminal until q (exit 0) or Ctrl+C (exit 130).
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedFleet, ResolvedNode } from '../../config/types.js';
import type { LoadedKeys } from '../../keys/sources.js';
import { ExitCode, UsageError } from '../../errors.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import { errorLines } from '../../util/terminal-text.js';
import { printLine, type CliIo } from '../io.js';
import type { Terminal } from '../../terminal.js';
import { outputFormat } from '../output-format.js';
import type { Session } from '../session.js';

export interface StatusCliOptions extends FileOptions {
  on?: string;
  json?: boolean;
  /** --format: text (default), json (as --json) or prometheus (the text exposition format). */
  format?: 'text' | 'json' | 'prometheus';
  exitCode?: boolean;
  showTrace?: boolean;
  /** --watch: refresh the table in place (the ink UI). */
  watch?: boolean;
  /** --interval: ms between the end of one refresh and the start of the next. */
  interval?: number;
  /** For the keys' hashes (root's to read) on targets where sudo wants a password. */
  askSudoPassword?: boolean;
  /** --probe-parallel: targets asked at once. */
  probeParallel?: number;
}

export const WATCH_INTERVAL_DEFAULT_MS = 5000;
export const INTERVAL_NEEDS_WATCH = '--interval is how often --watch refreshes: add --watch (fleet status --watch --interval 10s)';
export const WATCH_NOT_JSON = '--watch redraws a table on the terminal and --json prints events: use one of them (for a stream of states, run fleet status --json in a loop)';
export const WATCH_NEEDS_TERMINAL = '--watch needs a terminal on stdin and stdout (it redraws the table in place and reads q); without one, run fleet status (or fleet status --json) in a loop';
export const WATCH_NO_EXIT_CODE = '--exit-code is for one status, not a watch (q always exits 0): leave out one of them';
export const WATCH_NOT_FORMAT = '--watch redraws a table on the terminal: leave out --format (for metrics, run fleet status --format prometheus on a schedule)';

export async function runStatus(options: StatusCliOptions, io: CliIo, signal: AbortSignal, session?: Session): Promise<number> {
  if (options.interval !== undefined && !options.watch) throw new UsageError(INTERVAL_NEEDS_WATCH);
  const format = outputFormat(options);
  if (options.watch) {
    if (format === 'json') throw new UsageError(WATCH_NOT_JSON);
    if (format !== 'text') throw new UsageError(WATCH_NOT_FORMAT);
    if (options.exitCode) throw new UsageError(WATCH_NO_EXIT_CODE);
    if (!io.tty) throw new UsageError(WATCH_NEEDS_TERMINAL);
  }
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  // Read once (a watch compares every refresh with them): a source that fails ends status before any node is asked.
  const keys = await (await import('../../keys/sources.js')).loadFleetKeys(fleet, nodes, io.env, signal);
  // Keys are root's to read, even as hashes: sudo may want its password (--ask-sudo-password, FLEET_SUDO_PASSWORD_FILE).
  const sudoPassword = keys ? await (await import('../password.js')).sudoPasswordFor(nodes, !!options.askSudoPassword, io) : undefined;
  if (options.watch && io.tty) return watchStatus(fleet, nodes, { intervalMs: options.interval ?? WATCH_INTERVAL_DEFAULT_MS, showTrace: !!options.showTrace, ...(keys ? { keys } : {}), ...(sudoPassword !== undefined ? { sudoPassword } : {}) }, io, io.tty, signal, session);
  const [{ statusFleet }, { formatStatus }, { withEventOutput }, { formatStatusMetrics }, { describeBuildHost }] = await Promise.all([
    import('../../status/run.js'), import('../../status/format.js'), import('../../ui/json.js'), import('../../ui/status-metrics.js'), import('../fleet-file.js'),
  ]);
  return withEventOutput(io.stdout, format === 'json', ({ runId, emit }) => withHosts(io, signal, async (pool, runLocal) => {
    const result = await statusFleet(fleet, nodes, { runId, showTrace: !!options.showTrace, exitCode: !!options.exitCode, run: runLocal, pool, signal, emit, ...(keys ? { keys } : {}) });
    if (format === 'text') printLine(io.stdout, formatStatus(result.statuses));
    if (format === 'prometheus') {
      const labels = nodes.map((n) => ({ node: n.name, tags: n.tags, buildHost: describeBuildHost(n) }));
      io.stdout.write(formatStatusMetrics({ nodes: labels, statuses: result.statuses, time: new Date() }));
      // The metrics say only that a node could not be asked; a cron log keeps why.
      for (const s of result.statuses) if (s.state === 'unreachable') printLine(io.stderr, errorLines(s.reason));
    }
    if (format !== 'json') for (const f of result.failures) printLine(io.stderr, errorLines(f.message));
    return result.exitCode;
  }, sudoPassword, { ...(options.probeParallel ? { probes: options.probeParallel } : {}) }), session?.onQuit);
}

/**
 * One refresh every interval (counted from the end of the last one) into the watch UI, over one host pool, so
 * each node's SSH master is reused. The fleet file was read once; Nix evaluates each refresh (an edited system
 * shows). q ends it (exit 0); Ctrl+C in the UI goes to the session's handler, as SIGINT does (exit 130). An error a
 * refresh throws ends the watch: the terminal is given back first, then it is reported as without --watch.
 */
async function watchStatus(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: { intervalMs: number; showTrace: boolean; keys?: LoadedKeys; sudoPassword?: string }, io: CliIo, tty: Terminal, signal: AbortSignal, session?: Session): Promise<number> {
  const [{ statusFleet }, { createStatusWatch }, { createEventStream, newRunId }] = await Promise.all([
    import('../../status/run.js'), import('../ink.js').then((m) => m.loadInkUi()), import('../../events.js'),
  ]);
  const quit = new AbortController();
  // Without a session (tests), Ctrl+C in the UI still stops the watch.
  const interrupted = new AbortController();
  const stop = AbortSignal.any([signal, quit.signal, interrupted.signal]);
  const ui = createStatusWatch(tty, { intervalMs: options.intervalMs }, (command) => {
    if (command.type === 'quit') quit.abort();
    else if (command.type === 'abort') {
      if (session) session.interrupt();
      else interrupted.abort();
    }
  });
  const detach = session?.attach(ui) ?? (() => {});
  try {
    await withHosts(io, stop, async (pool, runLocal) => {
      while (!stop.aborted) {
        // A host unreachable in the last refresh (or whose master died: a reboot) is asked afresh.
        pool.forgetFailures();
        const runId = newRunId();
        try {
          await statusFleet(fleet, nodes, { runId, showTrace: options.showTrace, exitCode: false, run: runLocal, pool, signal: stop, emit: createEventStream(runId, (e) => ui.onEvent(e)), ...(options.keys ? { keys: options.keys } : {}) });
        } catch (error) {
          // A refresh cut short by q or Ctrl+C may throw for that reason alone: the person asked to stop.
          if (!stop.aborted) throw error;
        }
        // The wait ends early on q or Ctrl+C; the rejection it then throws only says so.
        await sleep(options.intervalMs, undefined, { signal: stop }).catch(() => {});
      }
    }, options.sudoPassword);
  } finally {
    await ui.finish();
    detach();
  }
  return signal.aborted || interrupted.signal.aborted ? ExitCode.interrupted : ExitCode.ok;
}
