// Durations in the fleet file (`10s`, `500ms`, `5m`, `1h`); the schema has already checked the shape.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration string; throws on a shape the schema would refuse. */
export function parseDuration(text: string): number {
  const match = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`not a duration: \`${text}\` (write e.g. \`500ms\`, \`10s\`, \`5m\` or \`1h\`)`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
