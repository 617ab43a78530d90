// The YAML layer: parse with positions and merge keys, and turn YAML errors into diagnostics at line:col.
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Pair, YAMLError } from 'yaml';
import { describeContainer } from './describe.js';
import { isMergePair, keyText, mergeSources, rangeStart, type YamlSource } from './yaml-nodes.js';

export type Path = (string | number)[];

/** A diagnostic without its file name: the config layer adds it last. */
export interface Located {
  line: number;
  col: number;
  severity: 'error' | 'warning';
  message: string;
}

interface ParsedYaml {
  source: YamlSource;
  data: unknown;
  problems: Located[];
  fatal: boolean; // syntax broke the document: schema checks on it would only add noise
}

/** Parses one YAML document (merge keys on, duplicate keys refused: found here in one pass, because
 *  yaml's own uniqueKeys check compares every key with every other, seconds for 10,000 nodes). */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // resolveKnownTags off: `!!binary`, `!!set`, `!!timestamp` would give non-JSON values the schema cannot judge.
  const doc = parseDocument(text, { merge: true, uniqueKeys: false, prettyErrors: false, resolveKnownTags: false, lineCounter });
  const source = { doc, lineCounter };
  const problems = [
    ...doc.errors.map((e) => locateYamlError(source, e, 'error')),
    ...doc.warnings.map((e) => locateYamlError(source, e, 'warning')),
    ...findDuplicateKeys(source, doc.contents, []),
  ];
  const fatal = doc.errors.length > 0;
  if (fatal) return { source, data: undefined, problems, fatal };
  const unsupported = findUnsupported(source);
  if (unsupported.length > 0) return { source, data: undefined, problems: [...problems, ...unsupported], fatal: true };
  try {
    return { source, data: doc.toJS({ maxAliasCount: 100 }) as unknown, problems, fatal: false };
  } catch (e) {
    const message = `cannot read the YAML: ${e instanceof Error ? e.message : String(e)}`;
    return { source, data: undefined, problems: [...problems, { line: 1, col: 1, severity: 'error', message }], fatal: true };
  }
}

function locateYamlError(source: YamlSource, e: YAMLError, severity: Located['severity']): Located {
  const unclosed = e.code === 'MISSING_CHAR' && /quote/.test(e.message) ? findUnclosedQuote(source, e.pos[0]) : undefined;
  const { line, col } = source.lineCounter.linePos(unclosed ?? e.pos[0]);
  const message = unclosed === undefined ? rewordYamlError(source, e, severity) : 'YAML syntax: this quoted string is never closed (missing closing quote)';
  return { line, col, severity, message };
}

/** yaml reports an unclosed quote where the file ends; the opening quote is where the fix goes. */
function findUnclosedQuote(source: YamlSource, end: number): number | undefined {
  let start: number | undefined;
  visit(source.doc, {
    Scalar(_, scalar) {
      const quoted = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE';
      if (quoted && scalar.range && scalar.range[1] >= end) start = scalar.range[0];
    },
  });
  return start;
}

function rewordYamlError(source: YamlSource, e: YAMLError, severity: Located['severity']): string {
  if (e.code === 'MULTIPLE_DOCS') return 'a fleet file holds one YAML document; remove the extra `---` and what follows';
  return `${severity === 'error' ? 'YAML syntax' : 'YAML'}: ${e.message.replace(/\s+/g, ' ')}`;
}

function findDuplicateKeys(source: YamlSource, node: unknown, path: Path): Located[] {
  const found: Located[] = [];
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = keyText(pair);
      if (key !== undefined && key !== '<<' && isScalar(pair.key)) {
        if (seen.has(key)) {
          const { line, col } = source.lineCounter.linePos(pair.key.range?.[0] ?? 0);
          found.push({ line, col, severity: 'error', message: `duplicate key \`${key}\` ${describeContainer(path)}` });
        }
        seen.add(key);
      }
      found.push(...findDuplicateKeys(source, pair.value, key === undefined ? path : [...path, key]));
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) found.push(...findDuplicateKeys(source, item, [...path, i]));
  }
  return found;
}

/** Aliases without an anchor, `<<` on a non-mapping, collection keys: toJS would throw or warn without a position. */
function findUnsupported(source: YamlSource): Located[] {
  const found: Located[] = [];
  const report = (node: unknown, message: string): void => {
    const { line, col } = source.lineCounter.linePos(rangeStart(node) ?? 0);
    found.push({ line, col, severity: 'error', message });
  };
  visit(source.doc, {
    Alias(_, alias) {
      if (alias.resolve(source.doc) === undefined) {
        report(alias, `alias \`*${alias.source}\` refers to no anchor; define \`&${alias.source}\` before using it`);
      }
    },
    Pair(_, pair) {
      if (pair.key !== null && !isScalar(pair.key) && !isAlias(pair.key)) report(pair.key, 'a key must be a plain word, not a list or a mapping');
      const sources = isMergePair(pair as Pair) ? mergeSources(source, pair as Pair) : [];
      if (!sources.every((s) => s === undefined || isMap(s))) report(pair.value, '`<<` can only merge a mapping or a list of mappings');
    },
  });
  return found;
}
