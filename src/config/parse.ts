// parseFleet: YAML → schema → semantic checks → resolved model, collecting every problem with its line:col.
import path from 'node:path';
import { ConfigError, type Diagnostic } from '../errors.js';
import type { Finding } from './findings.js';
import { checkPaths, type PathProbe } from './paths.js';
import { resolveFleet } from './resolve.js';
import { getValidator } from './schema.js';
import { translateSchemaErrors } from './schema-messages.js';
import { checkSemantics } from './semantic.js';
import type { FleetFile } from './schema-types.js';
import type { ResolvedFleet } from './types.js';
import { locate } from './yaml-locate.js';
import { parseYaml, type Located, type Path } from './yaml-source.js';

const EMPTY_FILE_MESSAGE = 'the fleet file is empty; it needs at least `version: 1`, `nix` and `nodes`';

/** Every diagnostic (errors and warnings, sorted by position) and the fleet when there is no error; paths are checked only with a probe. */
export function analyseFleet(text: string, file: string, probe?: PathProbe): { fleet?: ResolvedFleet; diagnostics: Diagnostic[] } {
  const yaml = parseYaml(text);
  const located: Located[] = [...yaml.problems];
  if (!yaml.fatal && (yaml.data === null || yaml.data === undefined)) {
    located.push({ line: 1, col: 1, severity: 'error', message: EMPTY_FILE_MESSAGE });
  } else if (!yaml.fatal) {
    const validate = getValidator();
    const schemaFindings = validate(yaml.data) ? [] : translateSchemaErrors(validate.errors ?? [], yaml.data);
    // "After the schema passes for that part": no semantic noise about a value the schema already refused.
    const onDisk = probe ? checkPaths(yaml.data, path.dirname(path.resolve(file)), probe) : [];
    const semantic = [...checkSemantics(yaml.data), ...onDisk].filter((f) => !schemaFindings.some((s) => isPrefix(s.path, f.path)));
    for (const f of [...schemaFindings, ...semantic]) located.push(placeFinding(yaml.source, f));
  }
  const diagnostics = sortUnique(located).map((d) => ({ file, ...d }));
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { fleet: resolveFleet(yaml.data as FleetFile, file, diagnostics), diagnostics };
}

/** Pure unless given a probe: throws ConfigError carrying every error (and the warnings) when the file is invalid. */
export function parseFleet(text: string, file: string, probe?: PathProbe): ResolvedFleet {
  const { fleet, diagnostics } = analyseFleet(text, file, probe);
  if (!fleet) throw new ConfigError(diagnostics);
  return fleet;
}

function placeFinding(source: Parameters<typeof locate>[0], f: Finding): Located {
  return { ...locate(source, f.path, f.at), severity: f.severity, message: f.message };
}

function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === path[i]);
}

function sortUnique(list: Located[]): Located[] {
  const seen = new Set<string>();
  return list
    .filter((d) => {
      const key = `${d.line}:${d.col}:${d.severity}:${d.message}`;
      return !seen.has(key) && (seen.add(key), true);
    })
    .sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}
