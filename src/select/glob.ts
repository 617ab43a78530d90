// Globs in `--on` terms: `*`, `?` and `[a-z]` / `[!0-9]` classes, anchored; everything else is literal.
// Matching never backtracks past the last `*`, so it takes O(pattern × name) steps, never exponential.
import { UsageError } from '../errors.js';
import { clip } from './clip.js';

const literal = /^[A-Za-z0-9._-]$/;

type Token =
  | { kind: 'char'; c: string }
  | { kind: 'one' } // `?`
  | { kind: 'star' } // a run of `*`, collapsed
  | { kind: 'class'; negate: boolean; ranges: [string, string][] };

/** A compiled glob; `steps` counts comparisons, so tests can bound the work without timing it. */
export interface Glob {
  test(text: string): boolean;
  steps: number;
}

/** True when the pattern has glob syntax, i.e. must be matched rather than looked up. */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Compile a glob; `term` is the whole term, quoted (cut when long) in errors. */
export function compileGlob(pattern: string, term: string): Glob {
  const tokens = tokenize(pattern, clip(term));
  const glob: Glob = { steps: 0, test: (text) => matchTokens(tokens, text, glob) };
  return glob;
}

function tokenize(pattern: string, term: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' }); // `**` means `*`
    } else if (c === '?') tokens.push({ kind: 'one' });
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new UsageError(`--on: unclosed \`[\` in \`${term}\``);
      tokens.push(compileClass(pattern.slice(i + 1, end), term));
      i = end;
    } else if (c === ']') throw new UsageError(`--on: \`]\` without \`[\` in \`${term}\``);
    else if (literal.test(c)) tokens.push({ kind: 'char', c });
    else if (c === '&' || c === '!') throw new UsageError(`--on: \`${c}\` may only start a term, in \`${term}\``);
    else throw new UsageError(`--on: \`${c}\` is not allowed inside a name or tag in \`${term}\``);
  }
  return tokens;
}

/** `[abc]`, `[a-z]`, `[!a-z]`: members are literal name characters. */
function compileClass(body: string, term: string): Token {
  const negate = body.startsWith('!');
  const members = negate ? body.slice(1) : body;
  if (members === '') throw new UsageError(`--on: empty \`[]\` in \`${term}\``);
  const ranges: [string, string][] = [];
  for (let i = 0; i < members.length; i++) {
    const c = members[i]!;
    if (!literal.test(c)) throw new UsageError(`--on: \`${c}\` is not allowed inside \`[...]\` in \`${term}\``);
    const to = members[i + 2];
    if (members[i + 1] === '-' && to !== undefined) {
      if (!literal.test(to)) throw new UsageError(`--on: \`${to}\` is not allowed inside \`[...]\` in \`${term}\``);
      if (to < c) throw new UsageError(`--on: range \`${c}-${to}\` is backwards in \`${term}\``);
      ranges.push([c, to]);
      i += 2;
    } else ranges.push([c, c]);
  }
  return { kind: 'class', negate, ranges };
}

function matchOne(token: Token, c: string): boolean {
  if (token.kind === 'char') return token.c === c;
  if (token.kind === 'one') return true;
  if (token.kind === 'class') return token.ranges.some(([from, to]) => c >= from && c <= to) !== token.negate;
  return false;
}

/** Greedy match that, on a mismatch, only retries from the most recent `*` (earlier stars never need it). */
function matchTokens(tokens: readonly Token[], text: string, counter: { steps: number }): boolean {
  let t = 0; // index in tokens
  let s = 0; // index in text
  let starToken = -1; // token index just after the last `*` seen
  let starText = 0; // where in text that `*` currently stops
  while (s < text.length) {
    counter.steps++;
    const token = tokens[t];
    if (token?.kind === 'star') {
      starToken = ++t;
      starText = s;
    } else if (token !== undefined && matchOne(token, text[s]!)) {
      t++;
      s++;
    } else if (starToken >= 0) {
      t = starToken;
      s = ++starText; // let the last `*` swallow one more character
    } else return false;
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}
