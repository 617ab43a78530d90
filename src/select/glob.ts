// Globs in `--on` terms: `*`, `?` and `[a-z]` / `[!0-9]` classes, anchored; everything else is literal.
import { UsageError } from '../errors.js';

const literal = /^[A-Za-z0-9._-]$/;

/** True when the pattern has glob syntax, i.e. must be matched rather than looked up. */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Compile a glob to an anchored RegExp; `term` is the whole term, quoted in errors. */
export function compileGlob(pattern: string, term: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new UsageError(`--on: unclosed \`[\` in \`${term}\``);
      source += compileClass(pattern.slice(i + 1, end), term);
      i = end;
    } else if (c === ']') throw new UsageError(`--on: \`]\` without \`[\` in \`${term}\``);
    else if (literal.test(c)) source += c === '.' ? '\\.' : c;
    else if (c === '&' || c === '!') throw new UsageError(`--on: \`${c}\` may only start a term, in \`${term}\``);
    else throw new UsageError(`--on: \`${c}\` is not allowed inside a name or tag in \`${term}\``);
  }
  return new RegExp(`^${source}$`);
}

/** `[abc]`, `[a-z]`, `[!a-z]`: members are literal name characters, checked before they reach RegExp. */
function compileClass(body: string, term: string): string {
  const negate = body.startsWith('!');
  const members = negate ? body.slice(1) : body;
  if (members === '') throw new UsageError(`--on: empty \`[]\` in \`${term}\``);
  let out = '';
  for (let i = 0; i < members.length; i++) {
    const c = members[i]!;
    if (!literal.test(c)) throw new UsageError(`--on: \`${c}\` is not allowed inside \`[...]\` in \`${term}\``);
    const to = members[i + 2];
    if (members[i + 1] === '-' && to !== undefined) {
      if (!literal.test(to)) throw new UsageError(`--on: \`${to}\` is not allowed inside \`[...]\` in \`${term}\``);
      if (to < c) throw new UsageError(`--on: range \`${c}-${to}\` is backwards in \`${term}\``);
      out += `${escapeClassChar(c)}-${escapeClassChar(to)}`;
      i += 2;
    } else out += escapeClassChar(c);
  }
  return `[${negate ? '^' : ''}${out}]`;
}

function escapeClassChar(c: string): string {
  return c === '-' ? '\\-' : c;
}
