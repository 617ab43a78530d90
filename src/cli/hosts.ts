// The machines a command talks to, for exactly as long as it runs: every SSH master is closed after.
import type { ConnectionLimits, HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import type { CliIo } from './io.js';

/** signal: Ctrl+C, which cancels connects in progress (masters already up stay until the end).
 *  sudoPassword: the targets' (apply, rollback), which they alone send, on a command's stdin. */
export async function withHosts<T>(io: CliIo, signal: AbortSignal, use: (pool: HostPool, run: RunCommand) => Promise<T>, sudoPassword?: string, limits: Partial<ConnectionLimits> = {}): Promise<T> {
  const [{ createHostPool, DEFAULT_KEEP_IDLE, DEFAULT_PROBE_PARALLEL }, { runLocal }, { ensureFileLimit, filesNeeded }] = await Promise.all([import('../transport/pool.js'), import('../transport/run.js'), import('../transport/fd-limit.js')]);
  const parallel = limits.keepIdle ?? DEFAULT_KEEP_IDLE;
  const probes = limits.probes ?? DEFAULT_PROBE_PARALLEL;
  // Before any connection: a limit too low fails here, with the fix, not as EMFILE halfway through a deploy.
  ensureFileLimit(filesNeeded(parallel, probes), `--parallel ${parallel} and --probe-parallel ${probes}`);
  const pool = createHostPool({ env: io.env, signal, limits: { keepIdle: parallel, probes }, ...(sudoPassword !== undefined ? { sudoPassword } : {}) });
  try {
    return await use(pool, runLocal);
  } finally {
    await pool.closeAll();
  }
}
