// The machines a command talks to, for exactly as long as it runs: every SSH master is closed after.
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import type { CliIo } from './io.js';

/** signal: Ctrl+C, which cancels connects in progress (masters already up stay until the end).
 *  sudoPassword: the targets' (apply, rollback), which they alone send, on a command's stdin. */
export async function withHosts<T>(io: CliIo, signal: AbortSignal, use: (pool: HostPool, run: RunCommand) => Promise<T>, sudoPassword?: string): Promise<T> {
  const [{ createHostPool }, { runLocal }] = await Promise.all([import('../transport/pool.js'), import('../transport/run.js')]);
  const pool = createHostPool({ env: io.env, signal, ...(sudoPassword !== undefined ? { sudoPassword } : {}) });
  try {
    return await use(pool, runLocal);
  } finally {
    await pool.closeAll();
  }
}
