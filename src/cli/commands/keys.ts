// `fleet keys`: upload the selected nodes' keys without deploying (colmena's upload-keys): after a reboot emptied
// /run/keys, or a secret rotated. Sources are read first: one that fails ends it before any target is touched.
import type { CliIo } from '../io.js';
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';

export interface KeysCliOptions extends FileOptions {
  on?: string;
  json?: boolean;
  parallel: number;
  askSudoPassword?: boolean;
  breakLock?: boolean;
}

export async function runKeys(options: KeysCliOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, true);
  const sudoPassword = await (await import('../password.js')).sudoPasswordFor(nodes, !!options.askSudoPassword, io);
  const [{ loadKeys }, { uploadKeys }, { chooseRenderer, isCi }, { createEventStream, newRunId }] = await Promise.all([
    import('../../keys/sources.js'), import('../../deploy/upload-keys.js'), import('../../ui/choose.js'), import('../../events.js'),
  ]);
  // Every selected node, keys or none: one that had keys loses those that left the fleet file.
  const keys = await loadKeys(nodes, { env: io.env, cwd: fleet.dir, signal });
  const runId = newRunId();
  const renderer = chooseRenderer({ json: !!options.json, tty: !!io.stdout.isTTY, ci: isCi(io.env), out: io.stdout });
  try {
    const result = await withHosts(io, signal, (pool) => uploadKeys(nodes, {
      runId, keys, pool, signal, parallel: options.parallel, ...(options.breakLock ? { breakLock: true } : {}),
      emit: createEventStream(runId, (e) => renderer.onEvent(e)),
    }), sudoPassword);
    await renderer.finish();
    for (const warning of result.warnings) io.stderr.write(`fleet: warning: ${warning}\n`);
    return result.exitCode;
  } catch (error) {
    await renderer.finish();
    throw error;
  }
}
