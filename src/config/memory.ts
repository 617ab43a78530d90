// Memory sizes in the fleet file and on the command line (`nix.evalMemory`, `--eval-memory`): `auto`, `1500M`,
// `4G`, `1.5G` (binary units), or a percentage of the available memory (as amount.ts writes percentages).
import type { MemorySetting } from './types.js';

const UNIT_BYTES: Record<string, number> = { M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const SIZE = /^((?:[1-9][0-9]{0,6}(?:\.[0-9]{1,3})?|0\.[0-9]{0,2}[1-9]))([MGT])$/;
const PERCENT = /^(100|[1-9][0-9]?)%$/;

/** The schema's pattern accepts exactly what this parses (a unit test checks the two agree); undefined otherwise. */
export function parseMemorySetting(text: string): MemorySetting | undefined {
  if (text === 'auto') return { kind: 'auto' };
  const percent = PERCENT.exec(text);
  if (percent) return { kind: 'percent', percent: Number(percent[1]) };
  const size = SIZE.exec(text);
  if (!size) return undefined;
  return { kind: 'bytes', bytes: Math.round(Number(size[1]) * UNIT_BYTES[size[2]!]!) };
}

export const MEMORY_SETTING_HELP = 'a size such as 1500M, 4G or 1.5G (binary units), a percentage of the available memory such as 50%, or auto';
