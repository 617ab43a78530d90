// `fleet diff`: what a deploy would change in each closure, grouped by identical change sets. Builds the
// new systems where the plan builds them; asks the targets read-only.
import { UsageError } from '../../errors.js';
import type { Goal } from '../../goal.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import { errorLines } from '../../util/terminal-text.js';
import { printLine, type CliIo } from '../io.js';
import { commentId, outputFormat } from '../output-format.js';
import type { Session } from '../session.js';

export interface DiffCliOptions extends FileOptions {
  on?: string;
  json?: boolean;
  /** --format: text (default), json (as --json) or markdown (a pull-request comment). */
  format?: 'text' | 'json' | 'markdown';
  maxJobs?: number | 'auto';
  showTrace?: boolean;
  /** --probe-parallel: targets asked at once. */
  probeParallel?: number;
}

export const BUILD_GOAL_REFUSED = 'fleet diff compares with what the targets run, and goal build asks no target: use switch, boot, test, dry-activate or push';

export async function runDiff(goal: Goal, options: DiffCliOptions, io: CliIo, signal: AbortSignal, session?: Session): Promise<number> {
  if (goal === 'build') throw new UsageError(BUILD_GOAL_REFUSED);
  const format = outputFormat(options);
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  const [{ diffFleet }, { formatDiffReport }, { withEventOutput }, { formatDiffMarkdown }] = await Promise.all([
    import('../../diff/run.js'), import('../../diff/format.js'), import('../../ui/json.js'), import('../../ui/diff-markdown.js'),
  ]);
  return withEventOutput(io.stdout, format === 'json', ({ runId, emit }) => withHosts(io, signal, async (pool, runLocal) => {
    const result = await diffFleet(fleet, nodes, { runId, goal, maxJobs: options.maxJobs ?? 'auto', showTrace: !!options.showTrace, run: runLocal, pool, signal, emit });
    if (format === 'text' && result.groups.length > 0) printLine(io.stdout, formatDiffReport(result.groups));
    if (format === 'markdown') {
      const marker = commentId(fleet.file, io.cwd, goal, options.on);
      printLine(io.stdout, formatDiffMarkdown({ marker, goal, groups: result.groups, failures: result.failures }));
    }
    if (format !== 'json') for (const f of result.failures) printLine(io.stderr, errorLines(f.message));
    return result.exitCode;
  }, undefined, { ...(options.probeParallel ? { probes: options.probeParallel } : {}) }), session?.onQuit);
}
