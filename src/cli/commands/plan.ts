// `fleet plan`: evaluate and ask the targets (read-only), then print what apply would do.
import type { Goal } from '../../goal.js';
import { ExitCode } from '../../errors.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import { printLine, type CliIo } from '../io.js';

export interface PlanOptions extends FileOptions {
  on?: string;
  json?: boolean;
  force?: boolean;
  showTrace?: boolean;
}

export async function runPlan(goal: Goal, options: PlanOptions, io: CliIo): Promise<number> {
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  const [{ prepareDeployment }, { formatPlan }] = await Promise.all([import('../../deploy/prepare.js'), import('../../plan/format.js')]);
  return withHosts(io, async (pool, runLocal) => {
    const prepared = await prepareDeployment(fleet, nodes, {
      goal, force: !!options.force, showTrace: !!options.showTrace, run: runLocal, pool, emit: () => {},
    });
    const failures = prepared.failures.map((f) => ({ node: f.node, phase: f.phase, error: f.message }));
    if (options.json) {
      printLine(io.stdout, JSON.stringify({ plan: prepared.plan, failures }));
    } else {
      printLine(io.stdout, formatPlan(prepared.plan));
      for (const f of prepared.failures) printLine(io.stderr, `error: ${f.message}`);
    }
    return failures.length ? ExitCode.nodesFailed : ExitCode.ok;
  });
}
