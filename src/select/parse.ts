// Parse `--on` text into terms; all syntax errors surface here, before any node is looked at.
import { UsageError } from '../errors.js';
import { clip } from './clip.js';
import { compileGlob, isGlob, type Glob } from './glob.js';

/** How a term combines: `,`-separated plain terms union, `&` intersects, `!` excludes. */
export type TermOp = 'union' | 'intersect' | 'exclude';

export interface Term {
  op: TermOp;
  kind: 'name' | 'tag';
  pattern: string; // the name or tag, or a glob over them
  glob?: Glob; // set when `pattern` has glob syntax
  text: string; // the term as written, for messages
}

export interface Selector {
  text: string;
  terms: Term[];
}

const allowed = /[^A-Za-z0-9._*?@:,&![\]-]/;

export function parseSelector(text: string): Selector {
  if (text.trim() === '') throw new UsageError('--on: empty selector; give node names, globs or tags (e.g. `web-1,tag:db`)');
  const bad = allowed.exec(text);
  if (bad) {
    const shown = bad[0] === ' ' ? 'a space' : `\`${bad[0]}\``;
    throw new UsageError(`--on: ${shown} is not allowed (column ${bad.index + 1} of \`${clip(text)}\`); separate terms with \`,\` only`);
  }
  const terms: Term[] = [];
  let column = 1;
  for (const part of text.split(',')) {
    if (part === '') throw new UsageError(`--on: empty term at column ${column} of \`${clip(text)}\``);
    terms.push(parseTerm(part));
    column += part.length + 1;
  }
  return { text, terms };
}

function parseTerm(text: string): Term {
  const op: TermOp = text.startsWith('&') ? 'intersect' : text.startsWith('!') ? 'exclude' : 'union';
  const rest = op === 'union' ? text : text.slice(1);
  if (rest === '') throw new UsageError(`--on: \`${text}\` needs a term after it (e.g. \`${text}tag:eu\`)`);
  if (/^[&!]/.test(rest)) throw new UsageError(`--on: \`${clip(text)}\`: a term takes at most one \`&\` or \`!\` prefix`);
  const [kind, pattern] = splitKind(rest, text);
  const glob = compileGlob(pattern, text); // also validates every character of a plain name
  return isGlob(pattern) ? { op, kind, pattern, text, glob } : { op, kind, pattern, text };
}

/** `tag:x` and `@x` select by tag; anything else is a node name or name glob. */
function splitKind(rest: string, text: string): ['name' | 'tag', string] {
  let kind: 'name' | 'tag' = 'name';
  let pattern = rest;
  if (rest.startsWith('tag:')) [kind, pattern] = ['tag', rest.slice(4)];
  else if (rest.startsWith('@')) [kind, pattern] = ['tag', rest.slice(1)];
  if (kind === 'tag' && pattern === '') {
    throw new UsageError(`--on: \`${text}\` needs a tag or tag glob after it (e.g. \`tag:web\`, \`@eu-*\`)`);
  }
  const colon = pattern.indexOf(':');
  if (colon >= 0) {
    throw new UsageError(`--on: \`${clip(text)}\`: unknown term kind \`${clip(pattern.slice(0, colon + 1))}\`; terms are NAME, GLOB, tag:TAG or @TAG`);
  }
  if (pattern.includes('@')) throw new UsageError(`--on: \`${clip(text)}\`: \`@\` may only start a term (as in \`@web\`)`);
  return [kind, pattern];
}
