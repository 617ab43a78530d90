// Durations in the fleet file (`1500ms`, `10s`, `5m`, `1h`), from 1s to 24h: never near a Node timer's 2^31-1 ms limit.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Bounds the schema's duration pattern encodes; a unit test checks the two agree. */
export const MIN_DURATION_MS = 1000;
export const MAX_DURATION_MS = 24 * 3_600_000;

/** Milliseconds in a duration string; throws on a shape or a size the schema would refuse. */
export function parseDuration(text: string): number {
  const match = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`not a duration: \`${text}\` (write e.g. \`1500ms\`, \`10s\`, \`5m\` or \`1h\`)`);
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  if (!(ms >= MIN_DURATION_MS && ms <= MAX_DURATION_MS)) throw new RangeError(`duration \`${text}\` is not from \`1s\` to \`24h\``);
  return ms;
}
