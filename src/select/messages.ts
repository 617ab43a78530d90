// User-facing `--on` errors: each says what exists, so the next command can be right.
import { suggest } from '../util/suggest.js';
import { clip } from './clip.js';
import type { Term } from './parse.js';

const shownItems = 10;

/** `a, b, c … and 9,990 more`, so a 10,000-node fleet does not flood the terminal. */
export function formatList(items: readonly string[], max = shownItems): string {
  if (items.length === 0) return '(none)';
  const head = items.slice(0, max).join(', ');
  const more = items.length - max;
  return more > 0 ? `${head} … and ${more.toLocaleString('en-US')} more` : head;
}

/** Why a term matched nothing, with the closest existing name or tag. */
export function describeNoMatch(term: Term, names: readonly string[], tags: readonly string[]): string {
  const [what, candidates] = term.kind === 'name' ? ['node', names] : ['tag', tags];
  const list = `${what === 'node' ? 'nodes' : 'tags'}: ${formatList(candidates)}`;
  if (term.glob) return `--on: no ${what} matches \`${clip(term.pattern)}\` (in \`${clip(term.text)}\`); ${list}`;
  const close = suggest(term.pattern, sameLength(term.pattern, candidates));
  const shown = clip(term.pattern);
  const hint = close === undefined ? '' : ` did you mean \`${close}\`?`;
  const subject = what === 'node' ? `no node named \`${shown}\`` : `no tag \`${shown}\``;
  return `--on: ${subject};${hint} ${list}`;
}

/** An `&` term kept nothing of what the terms before it selected. */
export function describeEmptyIntersection(text: string, term: Term, applied: readonly Term[], before: number): string {
  return `--on: \`${clip(text)}\` selects no node: none of the ${plural(before)} selected by \`${clip(joinTerms(applied))}\` matches \`${clip(term.text)}\``;
}

/** A `!` term removed the last nodes left. */
export function describeEmptyExclusion(text: string, term: Term, applied: readonly Term[], removed: readonly string[]): string {
  const left = applied.length === 0 ? `all ${plural(removed.length)}` : `the ${plural(removed.length)} left by \`${clip(joinTerms(applied))}\``;
  return `--on: \`${clip(text)}\` selects no node: \`${clip(term.text)}\` excludes ${left} (${formatList(removed)})`;
}

function joinTerms(terms: readonly Term[]): string {
  return terms.map((t) => t.text).join(',');
}

function plural(n: number): string {
  return `${n.toLocaleString('en-US')} node${n === 1 ? '' : 's'}`;
}

/** Only candidates `suggest` could accept (edit distance >= length difference), so a huge term costs no quadratic work. */
function sameLength(word: string, candidates: readonly string[]): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  return candidates.filter((c) => Math.abs(c.length - word.length) <= limit);
}
