// `fleet rollback`: apply's run with its systems read from the targets' records instead of evaluated.
import type { RollbackChoice } from '../../rollback/choose.js';
import type { CliIo } from '../io.js';
import type { Session } from '../session.js';
import type { ApplyCliOptions } from '../apply-policy.js';
import { runApply } from './apply.js';

export interface RollbackCliOptions extends ApplyCliOptions {
  to?: number;
  toRun?: string;
}

export function rollbackChoice(options: Pick<RollbackCliOptions, 'to' | 'toRun'>): RollbackChoice {
  if (options.to !== undefined) return { kind: 'generation', generation: options.to };
  if (options.toRun !== undefined) return { kind: 'run', run: options.toRun };
  return { kind: 'last' };
}

export async function runRollback(options: RollbackCliOptions, io: CliIo, signal: AbortSignal, session?: Session): Promise<number> {
  return runApply('switch', options, io, signal, { ...(session ? { session } : {}), rollback: rollbackChoice(options) });
}
