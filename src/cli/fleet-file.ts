// Which fleet file: -f, then FLEET_FILE, then ./fleet.yaml; and the selection every command shares.
import { resolve } from 'node:path';
import { formatHostSpec } from '../config/hostspec.js';
import type { MemorySetting, ResolvedFleet, ResolvedNode } from '../config/types.js';
import { formatDiagnostic, UsageError } from '../errors.js';
import { printLine, type CliIo } from './io.js';
import { withCopyFlag } from '../config/cache.js';
import type { Copy } from '../config/schema-types.js';

export interface FileOptions {
  file?: string;
  /** --eval-memory and --eval-workers (commands that evaluate): over the fleet file's nix.evalMemory. */
  evalMemory?: MemorySetting;
  evalWorkers?: number | 'auto';
  /** --copy (apply, rollback, plan): every node's route for this run. */
  copy?: Copy;
}

export function locateFleetFile(options: FileOptions, io: CliIo): string {
  return resolve(io.cwd, options.file ?? io.env.FLEET_FILE ?? 'fleet.yaml');
}

export async function openFleet(options: FileOptions, io: CliIo): Promise<ResolvedFleet> {
  const { loadFleet } = await import('../config/index.js');
  const fleet = await loadFleet(locateFleetFile(options, io));
  for (const warning of fleet.warnings) printLine(io.stderr, formatDiagnostic(warning));
  return withCopyFlag(withEvalFlags(fleet, options), options.copy);
}

/** The flags win over the fleet file: evaluation reads them from the resolved fleet, like its own settings. */
export function withEvalFlags(fleet: ResolvedFleet, options: Pick<FileOptions, 'evalMemory' | 'evalWorkers'>): ResolvedFleet {
  if (options.evalMemory === undefined && options.evalWorkers === undefined) return fleet;
  const nix = {
    ...fleet.nix,
    ...(options.evalMemory !== undefined ? { evalMemory: options.evalMemory } : {}),
    ...(options.evalWorkers !== undefined ? { evalWorkers: options.evalWorkers } : {}),
  };
  return { ...fleet, nix };
}

/** `--on`; a missing one means all nodes, unless the fleet forbids that for commands that change machines. */
export async function selectFromFleet(fleet: ResolvedFleet, on: string | undefined, changesMachines: boolean): Promise<ResolvedNode[]> {
  if (on === undefined && changesMachines && !fleet.allowApplyAll) {
    throw new UsageError(`${fleet.file} sets allowApplyAll: false: name the nodes with --on (for example --on '*' to mean all of them)`);
  }
  const { selectNodes } = await import('../select/index.js');
  return selectNodes(Object.values(fleet.nodes), on);
}

export function describeBuildHost(node: ResolvedNode): string {
  const ref = node.buildHost;
  if (ref.kind === 'builder') return ref.name;
  if (ref.kind === 'host') return formatHostSpec(ref.spec);
  return ref.kind;
}
