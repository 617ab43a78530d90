// ajv reports every failing branch of a oneOf; people need one message: which alternative, or what to remove.
import type { ErrorObject } from 'ajv';
import { describePlace, describeValue, listCode } from './describe.js';
import { explainUnknownKey, getAt, parsePointer, type Finding } from './findings.js';
import { listProperties, resolveRef, type SchemaObject } from './schema.js';

interface Branch {
  ref: string;
  required: string[];
  properties: string[];
}

/** Replaces each oneOf error and its branches' errors by findings; other errors pass through. */
export function collapseOneOf(errors: readonly ErrorObject[], data: unknown): { rest: ErrorObject[]; findings: Finding[] } {
  let rest = [...errors];
  const findings: Finding[] = [];
  for (const oneOf of errors.filter((e) => e.keyword === 'oneOf')) {
    const branches = readBranches(oneOf.schema);
    const inside = (e: ErrorObject, b: Branch): boolean =>
      isWithin(e.instancePath, oneOf.instancePath) && e.schemaPath.startsWith(`${b.ref}/`);
    const related = rest.filter((e) => e === oneOf || branches.some((b) => inside(e, b)));
    rest = rest.filter((e) => !related.includes(e));
    const path = parsePointer(oneOf.instancePath, data);
    const value = getAt(data, path);
    const place = describePlace(path);
    const choices = listAlternatives(branches);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      findings.push({ path, at: 'value', severity: 'error', message: `${place} must be a mapping with ${choices}, got ${describeValue(value)}` });
      continue;
    }
    const keys = Object.keys(value);
    const chosen = branches.filter((b) => b.required.every((k) => keys.includes(k)));
    if (chosen.length === 1) {
      rest.push(...related.filter((e) => inside(e, chosen[0]!)));
    } else if (chosen.length === 0) {
      findings.push({ path, at: 'key', severity: 'error', message: `${place} must set ${choices}` });
      const known = [...new Set(branches.flatMap((b) => b.properties))];
      for (const key of keys.filter((k) => !known.includes(k))) {
        findings.push({ path: [...path, key], at: 'key', severity: 'error', message: explainUnknownKey(key, path, known) });
      }
    } else {
      const present = chosen.flatMap((b) => b.required);
      findings.push({
        path: [...path, [...present].sort((a, b) => keys.indexOf(a) - keys.indexOf(b)).at(-1)!],
        at: 'key',
        severity: 'error',
        message: `${place} must set only one of ${listCode(present).replace(/ and /, ' or ')}, not both`,
      });
    }
  }
  rest.sort((a, b) => errors.indexOf(a) - errors.indexOf(b));
  return { rest, findings };
}

function isWithin(pointer: string, parent: string): boolean {
  return pointer === parent || pointer.startsWith(`${parent}/`);
}

function readBranches(schema: unknown): Branch[] {
  const list = Array.isArray(schema) ? (schema as SchemaObject[]) : [];
  return list.map((branch) => {
    const ref = typeof branch.$ref === 'string' ? branch.$ref : '';
    const target = resolveRef(ref) ?? branch;
    const required = Array.isArray(target.required) ? (target.required as string[]) : [];
    return { ref, required, properties: listProperties(target) };
  });
}

/** "`file` or `flake`" */
function listAlternatives(branches: Branch[]): string {
  return branches.map((b) => listCode(b.required)).join(' or ');
}
