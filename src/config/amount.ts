// Wave sizes and failure budgets as written (`5`, `"20%"`), shared by the fleet file and the CLI flags.
import type { Amount, Pause } from './types.js';
import { parseDuration } from './duration.js';

const PERCENT = /^(100|[1-9]?[0-9])%$/;

/** `5` → {count: 5}, `"20%"` → {percent: 20}; undefined when the text is neither (callers word the error). */
export function parseAmount(value: number | string, minCount: number): Amount | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= minCount ? { count: value } : undefined;
  const percent = PERCENT.exec(value);
  if (percent) return { percent: Number(percent[1]) };
  return /^[0-9]+$/.test(value) ? parseAmount(Number(value), minCount) : undefined;
}

/** `0s` (any zero) → none, `confirm`, else a duration the schema accepted. */
export function parsePause(text: string): Pause {
  if (text === 'confirm') return { kind: 'confirm' };
  if (/^0(ms|s|m|h)$/.test(text)) return { kind: 'none' };
  return { kind: 'delay', ms: parseDuration(text) };
}
