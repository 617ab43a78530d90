// The JSON Schema (schema/fleet.schema.json, the single source of truth) and its compiled validator.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { validate as precompiled } from './schema-validator.js';
import type { FleetFile } from './schema-types.js';

// src/config and dist/config are both two levels below the package root, beside schema/.
export const schemaPath = fileURLToPath(new URL('../../schema/fleet.schema.json', import.meta.url));

export type SchemaObject = Record<string, unknown>;

let cachedSchema: SchemaObject | undefined;

/** The parsed schema document: read only when a message needs it, never on a valid file. */
export function getSchema(): SchemaObject {
  return (cachedSchema ??= JSON.parse(readFileSync(schemaPath, 'utf8')) as SchemaObject);
}

/** The validator compiled ahead of time by scripts/gen-validator.ts (allErrors, verbose: errors carry their schema). */
export function getValidator(): ValidateFunction<FleetFile> {
  return precompiled as unknown as ValidateFunction<FleetFile>;
}

/** Follows a local `#/…` reference inside the schema document. */
export function resolveRef(ref: string): SchemaObject | undefined {
  let node: unknown = getSchema();
  for (const part of ref.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? (node as SchemaObject) : undefined;
}

/** The property names a mapping schema allows (following one `$ref`). */
export function listProperties(schema: SchemaObject | undefined): string[] {
  const target = typeof schema?.$ref === 'string' ? resolveRef(schema.$ref) : schema;
  const props = target?.properties;
  return typeof props === 'object' && props !== null ? Object.keys(props) : [];
}
