// Turns ajv's errors into one readable message per problem, each tied to a path in the YAML.
import type { ErrorObject } from 'ajv';
import { suggest } from '../util/suggest.js';
import { describeContainer, describePlace, describeType, describeValue } from './describe.js';
import { explainUnknownKey, getAt, parsePointer, type Finding } from './findings.js';
import { collapseOneOf } from './schema-oneof.js';
import { listProperties, type SchemaObject } from './schema.js';
import type { Path } from './yaml-source.js';

/** One finding per problem: oneOf noise collapsed, propertyNames wrappers dropped. */
export function translateSchemaErrors(errors: readonly ErrorObject[], data: unknown): Finding[] {
  const { rest, findings } = collapseOneOf(errors, data);
  for (const e of rest) {
    const finding = translateError(e, data);
    if (finding) findings.push(finding);
  }
  return findings;
}

function translateError(e: ErrorObject, data: unknown): Finding | undefined {
  const path = parsePointer(e.instancePath, data);
  const value = getAt(data, path);
  const parent = (e.parentSchema ?? {}) as SchemaObject;
  const error = (message: string, at: Finding['at'] = 'value', where: Path = path): Finding => ({
    path: where,
    at,
    severity: 'error',
    message,
  });
  if (e.keyword === 'propertyNames') return undefined; // the inner error names the property
  if (e.propertyName !== undefined) {
    const kind = path.at(-1) === 'keys' ? 'key' : path[0] === 'tagDefaults' ? 'tag' : path[0] === 'builders' ? 'builder' : 'node';
    const hint = e.keyword === 'maxLength' ? `must be at most ${String(e.params.limit)} characters long` : hintOf(parent);
    return error(`${kind} name \`${e.propertyName}\` ${hint}`, 'key', [...path, e.propertyName]);
  }
  const place = describePlace(path);
  switch (e.keyword) {
    case 'additionalProperties':
      return error(explainUnknownKey(String(e.params.additionalProperty), path, listProperties(parent)), 'key', [
        ...path,
        String(e.params.additionalProperty),
      ]);
    case 'required':
      return explainMissing(String(e.params.missingProperty), path, value, listProperties(parent), error);
    case 'type':
      return error(`${place} must be ${describeType(String(e.params.type))}, got ${describeValue(value)}`);
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const close = typeof value === 'string' ? suggest(value, allowed) : undefined;
      const list = allowed.map((a) => `\`${a}\``).join(', ').replace(/, ([^,]*)$/, ' or $1');
      return error(`${place} must be one of ${list}, got ${describeValue(value)}${close ? `; did you mean \`${close}\`?` : ''}`);
    }
    case 'const':
      return error(`${place} must be ${JSON.stringify(e.params.allowedValue)}, got ${describeValue(value)}`);
    case 'pattern':
      return error(`${place} ${hintOf(parent)}, got \`${String(value)}\``);
    case 'minLength':
      return error(`${place} must not be empty`);
    case 'maxLength':
      return error(`${place} must be at most ${String(e.params.limit)} characters long`);
    case 'minItems':
      return error(`${place} must list at least ${String(e.params.limit)} entry`);
    case 'minProperties':
      return error(path.length === 1 && path[0] === 'nodes' ? '`nodes` must define at least one node' : `${place} must not be empty`);
    case 'minimum':
    case 'maximum':
      return error(`${place} must be ${describeRange(parent)}, got ${describeValue(value)}`);
    case 'exclusiveMinimum':
      return error(`${place} must be greater than ${String(e.params.limit)}, got ${describeValue(value)}`);
    case 'uniqueItems': {
      const later = Math.max(Number(e.params.i), Number(e.params.j));
      return error(`${place} lists \`${String(getAt(value, [later]))}\` twice`, 'value', [...path, later]);
    }
    default:
      return error(`${place} is invalid (${e.keyword}: ${e.message ?? 'no detail'})`);
  }
}

function explainMissing(
  missing: string,
  path: Path,
  value: unknown,
  known: readonly string[],
  error: (message: string, at: Finding['at']) => Finding,
): Finding | undefined {
  // A misspelt key already reads "did you mean `host`?"; saying it is missing too would be noise.
  const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  if (keys.some((k) => !known.includes(k) && suggest(k, known) === missing)) return undefined;
  return error(`missing required key \`${missing}\` ${describeContainer(path)}`, 'key');
}

function hintOf(schema: SchemaObject): string {
  const hint = schema.patternErrorMessage;
  return typeof hint === 'string' ? hint : `must match the pattern ${String(schema.pattern)}`;
}

function describeRange(schema: SchemaObject): string {
  const { minimum, maximum } = schema;
  if (typeof minimum === 'number' && typeof maximum === 'number') return `from ${minimum} to ${maximum}`;
  return typeof minimum === 'number' ? `at least ${minimum}` : `at most ${String(maximum)}`;
}
