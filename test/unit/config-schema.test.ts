// The schema is the single source of truth: generated types, built-in defaults and editor help must follow it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderSchemaTypes, typesPath } from '../../scripts/gen-types.js';
import { getSchema, getValidator, resolveRef, type SchemaObject } from '../../src/config/schema.js';
import { BUILDER_DEFAULTS, FLEET_DEFAULTS, NODE_DEFAULTS } from '../../src/config/resolve.js';

test('src/config/schema-types.ts is what scripts/gen-types.ts generates (run `npm run gen:types`)', async () => {
  assert.equal(readFileSync(typesPath, 'utf8'), await renderSchemaTypes());
});

test('the schema compiles under ajv strict mode, draft 2020-12, with an $id', () => {
  assert.equal(typeof getValidator(), 'function');
  assert.equal(getSchema().$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.match(String(getSchema().$id), /fleet\.schema\.json$/);
});

/** Every property schema of every object schema, with its path. */
function* walkProperties(schema: SchemaObject, where: string): Generator<[string, SchemaObject, SchemaObject]> {
  const props = (schema.properties ?? {}) as Record<string, SchemaObject>;
  for (const [key, prop] of Object.entries(props)) yield [`${where}.${key}`, prop, schema];
}

const objectSchemas = (): [string, SchemaObject][] => {
  const defs = getSchema().$defs as Record<string, SchemaObject>;
  const all: [string, SchemaObject][] = [['(root)', getSchema()], ...Object.entries(defs)];
  return all.filter(([, s]) => s.type === 'object');
};

test('every property has a description (directly or through its $ref), so editors show help', () => {
  for (const [name, schema] of objectSchemas()) {
    for (const [where, prop] of walkProperties(schema, name)) {
      const target = typeof prop.$ref === 'string' ? resolveRef(prop.$ref) : prop;
      const described = typeof prop.description === 'string' || typeof target?.description === 'string';
      assert.ok(described, `${where} has no description`);
    }
  }
});

test('every object with fixed keys refuses unknown ones (additionalProperties: false)', () => {
  for (const [name, schema] of objectSchemas()) {
    if (schema.properties) assert.equal(schema.additionalProperties, false, `${name} lets typos through`);
  }
});

test('built-in defaults equal the schema `default` annotations', () => {
  const defs = getSchema().$defs as Record<string, SchemaObject>;
  for (const [key, value] of Object.entries(NODE_DEFAULTS)) assert.deepEqual(defs[key]?.default, value, `node default ${key}`);
  const builder = (defs.builder!.properties ?? {}) as Record<string, SchemaObject>;
  for (const [key, value] of Object.entries(BUILDER_DEFAULTS)) {
    const prop = builder[key]!;
    const target = typeof prop.$ref === 'string' ? resolveRef(prop.$ref)! : prop;
    assert.deepEqual(prop.default ?? target.default, value, `builder default ${key}`);
  }
  const top = getSchema().properties as Record<string, SchemaObject>;
  assert.equal(top.allowApplyAll!.default, FLEET_DEFAULTS.allowApplyAll);
});

test('defaults may hold every node key except host, port and attr', () => {
  const defs = getSchema().$defs as Record<string, SchemaObject>;
  const nodeKeys = Object.keys(defs.node!.properties as object);
  const defaultKeys = Object.keys(defs.defaults!.properties as object);
  assert.deepEqual(
    nodeKeys.filter((k) => !defaultKeys.includes(k)),
    ['host', 'port', 'attr'],
  );
  assert.deepEqual(defaultKeys.filter((k) => !nodeKeys.includes(k)), []);
});

test('src/config/schema-validator.ts is what scripts/gen-validator.ts compiles (run `npm run gen:types`)', async () => {
  const { renderValidator, validatorPath } = await import('../../scripts/gen-validator.js');
  assert.equal(readFileSync(validatorPath, 'utf8'), await renderValidator());
});
