// One realisation per build location: Nix parallelises inside it; identical derivations are built once.
import type { Host } from '../transport/host.js';
import { tailLines, type RunCommand } from '../transport/run.js';
import { copyWithLocal } from './copy.js';

export interface BuildInput {
  run: RunCommand; // the deployer's, for shipping .drv closures
  host: Host;
  drvPaths: string[];
  outPaths: string[]; // the outputs the nodes need, checked afterwards
  maxJobs?: number | 'auto';
  useSubstitutes: boolean;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

export interface BuildResult {
  ok: boolean;
  /** Outputs that exist on the build host afterwards (a failed batch may still have built most). */
  built: Set<string>;
  error?: string;
  log: string[];
}

export async function buildOnHost(input: BuildInput): Promise<BuildResult> {
  const { host, drvPaths, signal } = input;
  if (!host.isLocal) {
    try {
      await host.connect();
    } catch (error) {
      return { ok: false, built: new Set(), error: (error as Error).message, log: [] };
    }
    const shipped = await copyWithLocal(input.run, '--to', host, drvPaths, input.useSubstitutes, signal);
    if (shipped.failed) return { ok: false, built: new Set(), error: `copying derivations to ${host.label} failed: ${shipped.message}`, log: tailLines(shipped) };
  }
  // --keep-going: one broken node must not stop the builds of the others.
  const jobs = input.maxJobs ? ['--max-jobs', String(input.maxJobs)] : [];
  const realised = await host.run(['nix-store', '--realise', '--keep-going', ...jobs, ...drvPaths], { signal, onLine: input.onLine });
  if (!realised.failed) return { ok: true, built: new Set(input.outPaths), log: tailLines(realised) };
  const check = await host.run(['nix-store', '--check-validity', '--print-invalid', ...input.outPaths], { signal });
  const invalid = new Set(check.failed ? input.outPaths : check.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
  return {
    ok: false,
    built: new Set(input.outPaths.filter((p) => !invalid.has(p))),
    error: `build on ${host.label} failed${realised.canceled ? ' (interrupted)' : ''}: ${realised.message}`,
    log: tailLines(realised, 30),
  };
}
