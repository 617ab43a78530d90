// `fleet exec [--on SEL] -- CMD ARGS…`: one command on the selected nodes, output prefixed by node (or grouped), a
// summary by exit code; NDJSON with --json. Exit 0 when every node exited 0, 1 when one did not, 130 on Ctrl+C.
import { UsageError } from '../../errors.js';
import type { Amount } from '../../config/types.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import type { CliIo } from '../io.js';

export interface ExecCliOptions extends FileOptions {
  on?: string;
  parallel: number;
  sudo?: boolean;
  timeout?: number;
  /** --shell TEXT: run through `sh -c` (pipes, globs, redirections), instead of an argv after `--`. */
  shell?: string;
  group?: boolean;
  json?: boolean;
  waves?: Amount[];
  maxFailures?: Amount;
  askSudoPassword?: boolean;
}

export const EXEC_NEEDS_COMMAND = 'give the command after `--` (fleet exec --on web-1 -- systemctl restart nginx), or as one shell line with --shell \'journalctl -u nginx | tail -5\'';
export const EXEC_BOTH_COMMANDS = '--shell and a command after `--` exclude each other: --shell TEXT is run as `sh -c TEXT`';
export const EXEC_PASSWORD_WITHOUT_SUDO = '--ask-sudo-password is for --sudo: without it the command runs as each node\'s SSH user';
export const EXEC_GROUP_JSON = '--group and --json exclude each other: --json gives every line as an event';

/** The argv every node runs: as given after `--` (never through a shell), or `sh -c TEXT` for --shell. */
export function execCommand(argv: readonly string[], shell: string | undefined): string[] {
  if (shell !== undefined && argv.length > 0) throw new UsageError(EXEC_BOTH_COMMANDS);
  if (shell !== undefined) {
    if (shell.trim() === '') throw new UsageError(EXEC_NEEDS_COMMAND);
    return ['sh', '-c', shell];
  }
  if (argv.length === 0 || argv[0] === '') throw new UsageError(EXEC_NEEDS_COMMAND);
  return [...argv];
}

export async function runExec(argv: string[], options: ExecCliOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const command = execCommand(argv, options.shell);
  if (options.group && options.json) throw new UsageError(EXEC_GROUP_JSON);
  if (options.askSudoPassword && !options.sudo) throw new UsageError(EXEC_PASSWORD_WITHOUT_SUDO);
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, true);
  const sudoPassword = options.sudo ? await (await import('../password.js')).sudoPasswordFor(nodes, !!options.askSudoPassword, io) : undefined;
  const staged = options.waves !== undefined || options.maxFailures !== undefined;
  const [{ execFleet }, { planWaves }, { createExecTextRenderer }, { createJsonRenderer }, { createEventStream, newRunId }] = await Promise.all([
    import('../../exec/run.js'), import('../../rollout/waves.js'), import('../../ui/exec-text.js'), import('../../ui/json.js'), import('../../events.js'),
  ]);
  // The fleet file's rollout gives the order (canaries first) and the default budget; the sizes only --waves.
  const waves = staged
    ? planWaves(nodes, { waves: options.waves ?? [{ percent: 100 }], order: fleet.rollout?.order ?? [], maxFailures: options.maxFailures ?? fleet.rollout?.maxFailures ?? { count: 0 } })
    : undefined;
  const renderer = options.json ? createJsonRenderer(io.stdout) : createExecTextRenderer(io.stdout, io.stderr, { group: !!options.group });
  const runId = newRunId();
  try {
    const result = await withHosts(io, signal, (pool) => execFleet({
      nodes, command, sudo: !!options.sudo, parallel: options.parallel, pool, signal,
      emit: createEventStream(runId, (e) => renderer.onEvent(e)),
      ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
      ...(waves ? { waves } : {}),
    }), sudoPassword);
    return result.exitCode;
  } finally {
    await renderer.finish();
  }
}
