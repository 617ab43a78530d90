import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector, selectNodes } from '../../src/select/index.js';
import { UsageError } from '../../src/errors.js';

const fleet = [
  { name: 'web-1', tags: ['web', 'eu'] },
  { name: 'web-2', tags: ['web', 'us'] },
  { name: 'web-3', tags: ['web', 'eu', 'eu-west'] },
  { name: 'db-1', tags: ['db', 'eu', 'eu-north'] },
  { name: 'cache.a', tags: [] },
];

const pick = (selector: string | undefined) => selectNodes(fleet, selector).map((n) => n.name);

/** Assert the exact user-facing message of a UsageError. */
function assertUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

void test('no selector selects every node, in input order', () => {
  assert.deepEqual(pick(undefined), ['web-1', 'web-2', 'web-3', 'db-1', 'cache.a']);
});

void test('a node name selects that node', () => {
  assert.deepEqual(pick('web-2'), ['web-2']);
  assert.deepEqual(pick('cache.a'), ['cache.a']);
});

void test('name globs: * and ? are anchored, dots are literal', () => {
  assert.deepEqual(pick('web-*'), ['web-1', 'web-2', 'web-3']);
  assert.deepEqual(pick('web-?'), ['web-1', 'web-2', 'web-3']);
  assert.deepEqual(pick('?b-1'), ['db-1']);
  assert.deepEqual(pick('*-1'), ['web-1', 'db-1']);
  assert.deepEqual(pick('cache?a'), ['cache.a']);
  assert.deepEqual(pick('cache.*'), ['cache.a']);
  assertUsage(() => pick('db.?'), '--on: no node matches `db.?` (in `db.?`); nodes: web-1, web-2, web-3, db-1, cache.a');
  assertUsage(() => pick('eb-*'), '--on: no node matches `eb-*` (in `eb-*`); nodes: web-1, web-2, web-3, db-1, cache.a');
});

void test('[...] classes: sets, ranges and [!...] negation', () => {
  assert.deepEqual(pick('web-[13]'), ['web-1', 'web-3']);
  assert.deepEqual(pick('web-[2-3]'), ['web-2', 'web-3']);
  assert.deepEqual(pick('web-[!2]'), ['web-1', 'web-3']);
  assert.deepEqual(pick('!web-[!2]'), ['web-2', 'db-1', 'cache.a']);
});

void test('tag:NAME and @NAME select by tag', () => {
  assert.deepEqual(pick('tag:eu'), ['web-1', 'web-3', 'db-1']);
  assert.deepEqual(pick('@eu'), ['web-1', 'web-3', 'db-1']);
  assert.deepEqual(pick('@db'), ['db-1']);
});

void test('tag globs with tag: and @', () => {
  assert.deepEqual(pick('tag:eu-*'), ['web-3', 'db-1']);
  assert.deepEqual(pick('@eu*'), ['web-1', 'web-3', 'db-1']);
  assert.deepEqual(pick('@?s'), ['web-2']);
});

void test('a tag matching a term twice on one node still selects it once', () => {
  const nodes = [{ name: 'a', tags: ['x', 'x', 'xy'] }];
  assert.deepEqual(selectNodes(nodes, '@x*,@x').map((n) => n.name), ['a']);
});

void test(', is union, without duplicates, in input order', () => {
  assert.deepEqual(pick('db-1,web-1'), ['web-1', 'db-1']);
  assert.deepEqual(pick('web-1,tag:web,@eu'), ['web-1', 'web-2', 'web-3', 'db-1']);
});

void test('& intersects and ! excludes', () => {
  assert.deepEqual(pick('tag:web,&tag:eu'), ['web-1', 'web-3']);
  assert.deepEqual(pick('tag:web,!web-3'), ['web-1', 'web-2']);
  assert.deepEqual(pick('tag:eu,&web-*,&@eu-*'), ['web-3']);
  assert.deepEqual(pick('tag:eu,!web-*,!tag:eu-north,cache.a'), ['cache.a']);
});

void test('unions, then intersections, then exclusions, whatever the order written', () => {
  const expected = ['web-1'];
  assert.deepEqual(pick('tag:web,&tag:eu,!web-3'), expected);
  assert.deepEqual(pick('!web-3,&tag:eu,tag:web'), expected);
  assert.deepEqual(pick('&tag:eu,!web-3,tag:web'), expected);
  // The union added after an exclusion does not bring the excluded node back.
  assert.deepEqual(pick('!web-3,web-3,web-1'), ['web-1']);
});

void test('without a plain term the base is every node', () => {
  assert.deepEqual(pick('!web-3'), ['web-1', 'web-2', 'db-1', 'cache.a']);
  assert.deepEqual(pick('&tag:eu'), ['web-1', 'web-3', 'db-1']);
  assert.deepEqual(pick('&tag:eu,!db-1'), ['web-1', 'web-3']);
});

void test('parseSelector returns terms with their operation and kind', () => {
  const s = parseSelector('web-*,&@eu,!tag:db');
  assert.deepEqual(
    s.terms.map((t) => [t.op, t.kind, t.pattern, t.glob !== undefined]),
    [
      ['union', 'name', 'web-*', true],
      ['intersect', 'tag', 'eu', false],
      ['exclude', 'tag', 'db', false],
    ],
  );
  // A parsed selector can be passed instead of text.
  assert.deepEqual(selectNodes(fleet, s).map((n) => n.name), ['web-1', 'web-3']);
});

void test('syntax errors: every message', () => {
  const cases: [string, string][] = [
    ['', '--on: empty selector; give node names, globs or tags (e.g. `web-1,tag:db`)'],
    ['a,,b', '--on: empty term at column 3 of `a,,b`'],
    ['web-1,', '--on: empty term at column 7 of `web-1,`'],
    ['&', '--on: `&` needs a term after it (e.g. `&tag:eu`)'],
    ['web-1,!', '--on: `!` needs a term after it (e.g. `!tag:eu`)'],
    ['&!web-1', '--on: `&!web-1`: a term takes at most one `&` or `!` prefix'],
    ['tag:', '--on: `tag:` needs a tag or tag glob after it (e.g. `tag:web`, `@eu-*`)'],
    ['!@', '--on: `!@` needs a tag or tag glob after it (e.g. `tag:web`, `@eu-*`)'],
    ['a, b', '--on: a space is not allowed (column 3 of `a, b`); separate terms with `,` only'],
    ['web;ls', '--on: `;` is not allowed (column 4 of `web;ls`); separate terms with `,` only'],
    ['web/1', '--on: `/` is not allowed (column 4 of `web/1`); separate terms with `,` only'],
    ['name:web', '--on: `name:web`: unknown term kind `name:`; terms are NAME, GLOB, tag:TAG or @TAG'],
    ['tag:a:b', '--on: `tag:a:b`: unknown term kind `a:`; terms are NAME, GLOB, tag:TAG or @TAG'],
    ['web@eu', '--on: `web@eu`: `@` may only start a term (as in `@web`)'],
    ['web&eu', '--on: `&` may only start a term, in `web&eu`'],
    ['web!1', '--on: `!` may only start a term, in `web!1`'],
    ['web-[1', '--on: unclosed `[` in `web-[1`'],
    ['web-1]', '--on: `]` without `[` in `web-1]`'],
    ['web-[]', '--on: empty `[]` in `web-[]`'],
    ['web-[!]', '--on: empty `[]` in `web-[!]`'],
    ['web-[3-1]', '--on: range `3-1` is backwards in `web-[3-1]`'],
    ['web-[*]', '--on: `*` is not allowed inside `[...]` in `web-[*]`'],
    ['web-[a-?]', '--on: `?` is not allowed inside `[...]` in `web-[a-?]`'],
  ];
  for (const [text, message] of cases) assertUsage(() => parseSelector(text), message);
});

void test('syntax errors come before any node lookup', () => {
  assertUsage(() => selectNodes([], 'a,,b'), '--on: empty term at column 3 of `a,,b`');
});

void test('unknown names and tags list what exists, with a close match', () => {
  assertUsage(
    () => pick('web-4'),
    '--on: no node named `web-4`; did you mean `web-1`? nodes: web-1, web-2, web-3, db-1, cache.a',
  );
  assertUsage(() => pick('@weeb'), '--on: no tag `weeb`; did you mean `web`? tags: db, eu, eu-north, eu-west, us, web');
  assertUsage(() => pick('tag:zzz'), '--on: no tag `zzz`; tags: db, eu, eu-north, eu-west, us, web');
  assertUsage(() => pick('@asia-*'), '--on: no tag matches `asia-*` (in `@asia-*`); tags: db, eu, eu-north, eu-west, us, web');
});

void test('terms inside & and ! must match something too, and every bad term is reported', () => {
  assertUsage(
    () => pick('tag:web,&tag:asia,!web-9'),
    [
      '--on: no tag `asia`; tags: db, eu, eu-north, eu-west, us, web',
      '--on: no node named `web-9`; did you mean `web-1`? nodes: web-1, web-2, web-3, db-1, cache.a',
    ].join('\n'),
  );
});

void test('a fleet without tags or nodes says (none)', () => {
  assertUsage(() => selectNodes([{ name: 'a', tags: [] }], '@web'), '--on: no tag `web`; tags: (none)');
  assertUsage(() => selectNodes([], 'a'), '--on: no node named `a`; nodes: (none)');
});

void test('an empty result is an error naming the intersection that emptied it', () => {
  assertUsage(
    () => pick('web-*,&tag:db'),
    '--on: `web-*,&tag:db` selects no node: none of the 3 nodes selected by `web-*` matches `&tag:db`',
  );
  assertUsage(
    () => pick('&tag:us,&@eu'),
    '--on: `&tag:us,&@eu` selects no node: none of the 1 node selected by `&tag:us` matches `&@eu`',
  );
});

void test('an empty result is an error naming the exclusion that emptied it', () => {
  assertUsage(
    () => pick('tag:web,&tag:eu,!web-1,!web-*'),
    '--on: `tag:web,&tag:eu,!web-1,!web-*` selects no node: `!web-*` excludes the 1 node left by `tag:web,&tag:eu,!web-1` (web-3)',
  );
  assertUsage(
    () => selectNodes([{ name: 'b', tags: [] }, { name: 'a', tags: [] }], '!*'),
    '--on: `!*` selects no node: `!*` excludes all 2 nodes (b, a)',
  );
});

void test('long lists are truncated with a count', () => {
  const nodes = Array.from({ length: 10_000 }, (_, i) => ({ name: `n-${i}`, tags: [`t-${i}`] }));
  assertUsage(
    () => selectNodes(nodes, 'x-1'),
    '--on: no node named `x-1`; did you mean `n-1`? nodes: n-0, n-1, n-2, n-3, n-4, n-5, n-6, n-7, n-8, n-9 … and 9,990 more',
  );
  assertUsage(
    () => selectNodes(nodes, '!n-*'),
    '--on: `!n-*` selects no node: `!n-*` excludes all 10,000 nodes (n-0, n-1, n-2, n-3, n-4, n-5, n-6, n-7, n-8, n-9 … and 9,990 more)',
  );
});

void test('10,000 nodes × 50 tags: the fast path selects exactly what a naive evaluation does', () => {
  const tags = Array.from({ length: 200 }, (_, j) => `t${j}`);
  const nodes = Array.from({ length: 10_000 }, (_, i) => ({
    name: `node-${i}`,
    tags: Array.from({ length: 50 }, (_, j) => tags[(i + j) % 200]!),
  }));
  const selector = 'tag:t1,@t2*,node-1*,&tag:t1?,!node-99*';
  const result = selectNodes(nodes, selector);
  // Cross-check against a naive evaluation so the fast path is also right.
  const naive = nodes.filter(
    (n) =>
      (n.tags.includes('t1') || n.tags.some((t) => t.startsWith('t2')) || n.name.startsWith('node-1')) &&
      n.tags.some((t) => /^t1.$/.test(t)) &&
      !n.name.startsWith('node-99'),
  );
  assert.deepEqual(result.map((n) => n.name), naive.map((n) => n.name));
  assert.ok(result.length > 0); // speed is measured by bench/plan-10k, never asserted in a test
});

/** The glob semantics the old RegExp compiler had, as a reference for small patterns only. */
function referenceGlob(pattern: string): RegExp {
  const source = pattern.replace(/\[!/g, '[^').replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`);
}

void test('globs match exactly like their regular-expression reading, on every small pattern tried', () => {
  const atoms = ['a', 'b', '-', '.', '*', '**', '?', '[ab]', '[!a]', '[a-c]'];
  const texts = ['', 'a', 'b', 'ab', 'ba', 'a-b', 'a.b', 'abc', 'aab', 'bbb', 'c', 'a-', '.a', 'abab'];
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let k = 0; k < 2000; k++) {
    const pattern = Array.from({ length: 1 + next(5) }, () => atoms[next(atoms.length)]).join('');
    const glob = parseSelector(pattern).terms[0]!.glob;
    if (glob === undefined) continue;
    for (const text of texts) assert.equal(glob.test(text), referenceGlob(pattern).test(text), `${pattern} on ${JSON.stringify(text)}`);
  }
});

void test('200 stars then x: the right nodes, in a bounded number of matcher steps', () => {
  const nodes = [{ name: 'web-1', tags: [] }, { name: 'box', tags: [] }, { name: 'x', tags: [] }, { name: `${'a'.repeat(500)}x`, tags: [] }];
  const selector = parseSelector(`${'*'.repeat(200)}x`);
  assert.deepEqual(selectNodes(nodes, selector).map((n) => n.name), ['box', 'x', `${'a'.repeat(500)}x`]);
  // Runs of `*` collapse to one, so each name costs at most (2 tokens + 1) × (its length + 1) steps.
  const bound = nodes.reduce((sum, n) => sum + 3 * (n.name.length + 1), 0);
  const steps = selector.terms[0]!.glob!.steps;
  assert.ok(steps > 0 && steps <= bound, `${steps} steps, bound ${bound}`);
});

void test('a pathological glob (`*a` × 100, then b) stays within pattern × name steps', () => {
  const glob = parseSelector(`${'*a'.repeat(100)}b`).terms[0]!.glob!;
  assert.equal(glob.test('a'.repeat(300)), false);
  assert.equal(glob.test(`${'a'.repeat(300)}b`), true);
  const steps = glob.steps;
  assert.ok(steps <= 2 * 201 * 302, `${steps} steps`);
});

void test('the CLI-sized pathological selector finishes in a child process (it hung for about a minute before)', async () => {
  const { execa } = await import('execa');
  const script = [
    "import { selectNodes } from './src/select/index.ts';",
    "const nodes = ['web-1', 'web-2', 'db-1', 'cache-a'].map((name) => ({ name, tags: [] }));",
    "try { selectNodes(nodes, '*'.repeat(200) + 'x'); } catch (e) { console.log(e.message); }",
  ].join('\n');
  const root = new URL('../../', import.meta.url).pathname;
  const r = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 30_000, reject: false });
  assert.equal(r.timedOut, false, 'the selector did not finish within 30 s');
  assert.match(r.stdout, /^--on: no node matches `\*{80}…` \(in `\*{80}…`\); nodes: web-1, web-2, db-1, cache-a$/);
});

void test('very long selectors and terms are cut at 80 characters in messages', () => {
  const long = `web-${'9'.repeat(200)}`;
  assertUsage(() => pick(`${long} x`), `--on: a space is not allowed (column 205 of \`${`${long} x`.slice(0, 80)}…\`); separate terms with \`,\` only`);
  assertUsage(() => pick(long), `--on: no node named \`${long.slice(0, 80)}…\`; nodes: web-1, web-2, web-3, db-1, cache.a`);
  assertUsage(() => pick(`${long}&`), `--on: \`&\` may only start a term, in \`${`${long}&`.slice(0, 80)}…\``);
  assertUsage(() => pick(`&!${long}`), `--on: \`${`&!${long}`.slice(0, 80)}…\`: a term takes at most one \`&\` or \`!\` prefix`);
  assertUsage(
    () => pick(`web-*,&@${'e*'.repeat(60)}z`),
    `--on: no tag matches \`${'e*'.repeat(40)}…\` (in \`&@${'e*'.repeat(39)}…\`); tags: db, eu, eu-north, eu-west, us, web`,
  );
});
