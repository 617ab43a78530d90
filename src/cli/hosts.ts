// The machines a command talks to, for exactly as long as it runs: every SSH master is closed after.
import type { HostPool } from '../transport/pool.js';
import type { RunCommand } from '../transport/run.js';
import type { CliIo } from './io.js';

export async function withHosts<T>(io: CliIo, _signal: AbortSignal, use: (pool: HostPool, run: RunCommand) => Promise<T>): Promise<T> {
  const [{ createHostPool }, { runLocal }] = await Promise.all([import('../transport/pool.js'), import('../transport/run.js')]);
  const pool = createHostPool({ env: io.env }); // TODO(transport merge): pass signal
  try {
    return await use(pool, runLocal);
  } finally {
    await pool.closeAll();
  }
}
