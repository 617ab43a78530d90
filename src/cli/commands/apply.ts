// `fleet apply`: the main job. Owns Ctrl+C: nothing new starts, activations finish or roll back.
import type { Goal } from '../../deploy/events.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import type { CliIo } from '../io.js';

export interface ApplyCliOptions extends FileOptions {
  on?: string;
  json?: boolean;
  force?: boolean;
  parallel: number;
  maxJobs?: number | 'auto';
  keepGoing?: boolean;
  useSubstitutes?: boolean;
  showTrace?: boolean;
  verbose?: boolean;
}

export async function runApply(goal: Goal, options: ApplyCliOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, true);
  const [{ applyFleet }, { chooseRenderer, isCi }] = await Promise.all([import('../../deploy/apply.js'), import('../../ui/choose.js')]);
  const renderer = chooseRenderer({ json: !!options.json, tty: !!io.stdout.isTTY, ci: isCi(io.env), verbose: !!options.verbose, out: io.stdout });
  try {
    return await withHosts(io, async (pool, runLocal) => (await applyFleet(fleet, nodes, {
      goal,
      force: !!options.force,
      parallel: options.parallel,
      ...(options.maxJobs ? { maxJobs: options.maxJobs } : {}),
      keepGoing: !!options.keepGoing,
      useSubstitutes: !!options.useSubstitutes,
      showTrace: !!options.showTrace,
      verbose: !!options.verbose,
      run: runLocal,
      pool,
      emit: (e) => renderer.onEvent(e),
      signal,
    })).exitCode, signal);
  } finally {
    await renderer.finish();
  }
}
