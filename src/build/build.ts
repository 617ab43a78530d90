// One realisation per build location: Nix parallelises inside it; identical derivations are built once,
// and outputs already valid on the build host are not built again.
import type { Host } from '../transport/host.js';
import { tailLines, type RunCommand } from '../transport/run.js';
import { copyWithLocal } from '../transport/copy.js';

export interface BuildInput {
  run: RunCommand; // the deployer's, for shipping .drv closures
  host: Host;
  drvPaths: string[];
  outPaths: string[]; // outPaths[i] is the output of drvPaths[i]: what the nodes need, checked before and after
  maxJobs?: number | 'auto';
  /** More for `nix-store --realise` (`--option builders …`) and its environment (NIX_SSHOPTS). */
  realise?: { args: string[]; env: Record<string, string> };
  useSubstitutes: boolean;
  signal?: AbortSignal;
  /** Called with the derivations that really need building, right before the build starts. */
  onStart?: (drvPaths: string[]) => void;
  onLine?: (line: string) => void;
}

export interface BuildResult {
  ok: boolean;
  /** Outputs that exist on the build host afterwards (a failed batch may still have built most). */
  built: Set<string>;
  /** Whether a realisation ran (false: everything was already there, or nothing could start). */
  started: boolean;
  canceled: boolean;
  error?: string;
  log: string[];
}

const failure = (error: string, log: string[] = [], canceled = false): BuildResult => ({ ok: false, built: new Set(), started: false, canceled, error, log });

/** Outputs not valid in the host's store (all of them when the question itself fails). */
async function invalidOutputs(host: Host, outPaths: string[], signal?: AbortSignal): Promise<Set<string>> {
  const check = await host.run(['nix-store', '--check-validity', '--print-invalid', ...outPaths], { signal });
  return new Set(check.failed ? outPaths : check.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
}

export async function buildOnHost(input: BuildInput): Promise<BuildResult> {
  const { host, signal } = input;
  if (!host.isLocal) {
    try {
      await host.connect();
    } catch (error) {
      return failure((error as Error).message);
    }
  }
  if (signal?.aborted) return failure('interrupted', [], true);
  const missing = await invalidOutputs(host, input.outPaths, signal);
  if (signal?.aborted) return failure('interrupted', [], true); // cancelled while asking: never announce it
  const drvPaths = input.drvPaths.filter((_d, i) => missing.has(input.outPaths[i]!));
  if (drvPaths.length === 0) return { ok: true, built: new Set(input.outPaths), started: false, canceled: false, log: [] };
  input.onStart?.(drvPaths);
  if (!host.isLocal) {
    const shipped = await copyWithLocal(input.run, '--to', host, drvPaths, input.useSubstitutes, signal);
    if (shipped.failed) return failure(`copying derivations to ${host.label} failed: ${shipped.message}`, tailLines(shipped), shipped.canceled);
  }
  // --keep-going: one broken node must not stop the builds of the others.
  const jobs = ['--max-jobs', String(input.maxJobs ?? 'auto')];
  const realised = await host.run(['nix-store', '--realise', '--keep-going', ...jobs, ...(input.realise?.args ?? []), ...drvPaths], {
    signal, onLine: input.onLine, ...(input.realise ? { env: input.realise.env } : {}),
  });
  if (!realised.failed) return { ok: true, built: new Set(input.outPaths), started: true, canceled: false, log: tailLines(realised) };
  const invalid = await invalidOutputs(host, input.outPaths);
  return {
    ok: false,
    built: new Set(input.outPaths.filter((p) => !invalid.has(p))),
    started: true,
    canceled: realised.canceled,
    error: `build on ${host.label} failed${realised.canceled ? ' (interrupted)' : ''}: ${realised.message}`,
    log: tailLines(realised, 30),
  };
}
