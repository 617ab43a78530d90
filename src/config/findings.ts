// Findings: problems tied to a path in the data, before the YAML layer turns paths into line:col.
import { suggest } from '../util/suggest.js';
import { describeContainer } from './describe.js';
import { listProperties, resolveRef } from './schema.js';
import type { Path } from './yaml-source.js';

/** A problem tied to a place in the data; the caller turns the path into line:col. */
export interface Finding {
  path: Path;
  at: 'key' | 'value';
  severity: 'error' | 'warning';
  message: string;
}

/** JSON pointer → path, with array indexes as numbers. */
export function parsePointer(pointer: string, data: unknown): Path {
  const path: Path = [];
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path.push(Array.isArray(node) ? Number(segment) : segment);
    node = getChild(node, path.at(-1)!);
  }
  return path;
}

export function getAt(data: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, segment) => getChild(node, segment), data);
}

function getChild(node: unknown, segment: string | number): unknown {
  if (typeof node !== 'object' || node === null) return undefined;
  return (node as Record<string, unknown>)[segment];
}

/** "unknown key `buidHost` in node `web-1`; did you mean `buildHost`?" */
export function explainUnknownKey(key: string, container: Path, known: readonly string[]): string {
  if (container.at(-2) === 'keys') {
    const secret = explainKeyText(key, container);
    if (secret) return secret;
  }
  if (container.length === 1 && container[0] === 'defaults') {
    const perNode = listProperties(resolveRef('#/$defs/node')).filter((k) => !known.includes(k));
    if (perNode.includes(key)) return `\`${key}\` cannot be set in \`defaults\`: it is per node; set it on each node`;
  }
  const close = suggest(key, known);
  const own = container.length === 0 ? '; keys starting with `x-` are free for your own use (e.g. YAML anchors)' : '';
  const advice = close ? `did you mean \`${close}\`?` : `known keys: ${known.join(', ')}${own}`;
  return `unknown key \`${key}\` ${describeContainer(container)}; ${advice}`;
}

/** Keys that would hold the secret itself, and colmena's names for fleet's sources. */
const INLINE_SECRET = ['text', 'keyText', 'content', 'contents', 'value', 'secret', 'data'];
const COLMENA_SOURCES: Record<string, string> = { keyFile: 'file', keyCommand: 'command' };

/** A key's `text:` is refused with the reason (the fleet file sits in git); colmena's `keyFile` is pointed to `file`. */
function explainKeyText(key: string, container: Path): string | undefined {
  const place = describeContainer(container);
  if (INLINE_SECRET.includes(key)) {
    return `\`${key}\` ${place} would put the secret itself in the fleet file, which sits in git (and in every clone, fork and CI log of it): ` +
      'give its source instead: `file` (read on the deployer), `command` (its output, e.g. [pass, show, wg/web-1]) or `env` (a variable of the deployer)';
  }
  const ours = COLMENA_SOURCES[key];
  return ours ? `unknown key \`${key}\` ${place}; fleet calls colmena's \`${key}\` \`${ours}\`` : undefined;
}
