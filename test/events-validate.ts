// Checks events against schema/events.schema.json (the NDJSON contract); tests call it on every event they see.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export const eventsSchemaPath = new URL('../schema/events.schema.json', import.meta.url);

let compiled: ValidateFunction | undefined;

/** The compiled schema (strict: a schema mistake throws here, not silently passes). */
export function eventValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(eventsSchemaPath, 'utf8')) as Record<string, unknown>;
    compiled = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
  }
  return compiled;
}

/** What is wrong with one event, one line per problem; empty when it is valid. */
export function eventProblems(event: unknown): string[] {
  const validate = eventValidator();
  if (validate(event)) return [];
  // `if` only says "its then failed", which the then's own errors already tell.
  return [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describeError))];
}

/** Throws listing every invalid event (its index, type and seq, and each problem); returns when all are valid. */
export function assertValidEvents(events: readonly unknown[]): void {
  const reports: string[] = [];
  events.forEach((event, index) => {
    const problems = eventProblems(event);
    if (problems.length === 0) return;
    const { type, seq } = (event ?? {}) as { type?: unknown; seq?: unknown };
    reports.push(`event #${index} (type ${JSON.stringify(type)}, seq ${JSON.stringify(seq)}): ${JSON.stringify(event)}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  });
  if (reports.length > 0) {
    throw new Error(`${reports.length} of ${events.length} events do not match schema/events.schema.json:\n${reports.join('\n')}`);
  }
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(event)' : e.instancePath;
  const extra = e.keyword === 'additionalProperties' ? ` ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}` : '';
  return `${where} ${e.message ?? e.keyword}${extra} (${e.schemaPath})`;
}
