// The Markdown of `fleet plan/diff --format markdown`: the escaping helper, the reports' layout, and hostile text
// (a Nix error, a lock record, package names) rendered by GitHub's own cmark-gfm: no markup may get through.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCliCaptured } from './cli-harness.js';
import { commentId, FORMAT_CONFLICT } from '../../src/cli/output-format.js';
import type { PackageChange } from '../../src/diff/closure.js';
import type { DiffGroup } from '../../src/diff/group.js';
import { changingNodes, wouldChange } from '../../src/plan/changes.js';
import type { NodePlan, Plan } from '../../src/plan/types.js';
import { formatDiffMarkdown, NAMES_SHOWN, PACKAGE_ROWS_SHOWN } from '../../src/ui/diff-markdown.js';
import { htmlText, mdBlock, mdCode, mdMarker, mdText } from '../../src/ui/markdown.js';
import { formatPlanMarkdown } from '../../src/ui/plan-markdown.js';
import { renderGfm, requireTool, tagsOf } from '../tools.js';

const sp = (hash: string, name: string) => `/nix/store/${hash.padEnd(32, '0')}-${name}`;
const node = (name: string, extra: Partial<NodePlan> = {}): NodePlan => ({
  name, drvPath: sp('d', `nixos-system-${name}.drv`), outPath: sp('n', `nixos-system-${name}`),
  from: { generation: 4, profileTarget: sp('o', `nixos-system-${name}`), currentSystem: sp('o', `nixos-system-${name}`) },
  to: { system: sp('n', `nixos-system-${name}`) }, buildJob: 'local', copy: { kind: 'from-local' }, activate: true, reason: 'switch needed', ...extra,
});
const unbuilt = ({ buildJob: _b, ...n }: NodePlan): NodePlan => n;
const upToDate = (name: string): NodePlan => unbuilt(node(name, { from: { generation: 5, currentSystem: sp('n', `nixos-system-${name}`), profileTarget: sp('n', `nixos-system-${name}`) }, copy: { kind: 'none', reason: 'not-needed' }, activate: false, reason: 'up to date' }));
const holder = { run: '20261121T091502Z-3fa9c1d2', by: 'bob@ci', pid: 42, since: 1795252502, expires: 1795252802 };
const locked = (name: string, by = holder.by): NodePlan => unbuilt(node(name, { copy: { kind: 'none', reason: 'not-needed' }, activate: false, reason: 'locked', lock: { state: 'held', holder: { ...holder, by } } }));
const plan = (nodes: NodePlan[], extra: Partial<Plan> = {}): Plan => {
  const built = nodes.filter((n) => n.buildJob);
  return { goal: 'switch', builds: built.length ? [{ id: 'local', location: { kind: 'local' }, drvPaths: built.map((n) => n.drvPath), nodes: built.map((n) => n.name) }] : [], nodes, ...extra };
};
const change = (name: string, before: string[], after: string[], sizeDelta: number): PackageChange => ({ name, before, after, sizeDelta });
const group = (nodes: string[], changes: Partial<Pick<DiffGroup, 'added' | 'removed' | 'changed'>>, delta = 2048): DiffGroup => ({
  nodes, added: [], removed: [], changed: [], ...changes,
  systems: Object.fromEntries(nodes.map((n) => [n, { from: sp('o', n), to: sp('n', n), sizeBefore: 10_000, sizeAfter: 10_000 + delta, sizeDelta: delta }])),
});

void test('mdText: Markdown and HTML characters shown as themselves, one line, controls visible', () => {
  const cases: [string, string][] = [
    ['hello-2.12', 'hello-2.12'],
    ['__init__', '\\_\\_init\\_\\_'],
    ['a*b*`c`|d[e](f)~g~\\', 'a\\*b\\*\\`c\\`\\|d\\[e\\](f)\\~g\\~\\\\'],
    ['<img src=x onerror=alert(1)> & "q"', '&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;'],
    ['&lt;', '&amp;lt;'],
    ['line one\nline two\r\n', 'line one line two '],
    ['bell\x07 esc\x1b[31mred', 'bell^G escred'],
    ['2.10 → +12.0 KiB', '2.10 → +12.0 KiB'],
    ['see https://x.example or WWW.y.example', 'see https\\://x.example or WWW\\.y.example'],
  ];
  for (const [text, md] of cases) assert.equal(mdText(text), md, JSON.stringify(text));
});

void test('mdCode: a plain identifier as inline code, anything else escaped as text; htmlText: entities only', () => {
  assert.equal(mdCode('web-1'), '`web-1`');
  assert.equal(mdCode('/nix/store/abc-hello_world-1.0'), '`/nix/store/abc-hello_world-1.0`');
  assert.equal(mdCode('a`b'), 'a\\`b');
  assert.equal(mdCode('a|b'), 'a\\|b');
  assert.equal(mdCode('a b'), 'a b');
  assert.equal(htmlText('<b>x & y</b>\n"z"'), '&lt;b&gt;x &amp; y&lt;/b&gt; &quot;z&quot;');
});

void test('mdBlock: the fence outgrows every run of backticks in the text; control characters cleaned per line', () => {
  assert.equal(mdBlock('error: x'), '```\nerror: x\n```');
  assert.equal(mdBlock('a ``` b\n````'), '`````\na ``` b\n````\n`````');
  assert.equal(mdBlock('red \x1b[31mtext\r\nbell\x07'), '```\nred text\nbell^G\n```');
});

void test('mdMarker: an HTML comment no id can end early; commentId: file relative to the working directory, goal, --on', () => {
  assert.equal(mdMarker('fleet-plan', 'fleet.yaml switch'), '<!-- fleet-plan: fleet.yaml switch -->');
  assert.equal(mdMarker('fleet-plan', 'a-->b<!--c\nd'), '<!-- fleet-plan: a-%2D%3Eb%3C!-%2Dc%0Ad -->');
  assert.equal(mdMarker('fleet-plan', 'ends-'), '<!-- fleet-plan: ends%2D -->');
  assert.equal(commentId('/repo/fleets/prod.yaml', '/repo', 'switch'), 'fleets/prod.yaml switch');
  assert.equal(commentId('/repo/fleet.yaml', '/repo', 'boot', 'tag:web,!web-3'), 'fleet.yaml boot on tag:web,!web-3');
  assert.equal(commentId('/elsewhere/fleet.yaml', '/repo', 'switch'), '../elsewhere/fleet.yaml switch');
});

void test('wouldChange: activations, copies and builds change a node; a locked one only when it is not on its system', () => {
  const p = plan([node('a'), upToDate('b'), locked('c'), { ...locked('d'), from: upToDate('d').from! }]);
  assert.deepEqual(changingNodes(p).map((n) => n.name), ['a', 'c']);
  const push = plan([node('p', { activate: false, reason: 'push needed' })], { goal: 'push' });
  assert.equal(wouldChange(push, push.nodes[0]!), true);
  const built = plan([node('x', { activate: false, copy: { kind: 'none', reason: 'not-needed' }, reason: 'build only' })], { goal: 'build' });
  assert.equal(wouldChange(built, built.nodes[0]!), true, 'a build is a change for goal build');
  assert.deepEqual(changingNodes(plan([upToDate('a'), upToDate('b')])), []);
});

void test('plan Markdown: marker, headline, groups of alike nodes with their package tables, what stays, details below', () => {
  const p = plan([node('web-1'), node('web-2'), node('web-3'), upToDate('db-1'), upToDate('db-2')], { waves: [{ nodes: ['web-1'], maxFailures: 0 }, { nodes: ['web-2', 'web-3', 'db-1', 'db-2'], maxFailures: 1 }] });
  const groups = [group(['web-1', 'web-2'], { changed: [change('hello', ['2.10'], ['2.12'], 120)], added: [change('libfoo', [], ['1.0'], 12_900)] })];
  const md = formatPlanMarkdown({ marker: 'fleet.yaml switch', plan: p, groups, notes: { 'web-3': 'not built yet on local (fleet diff builds it)' }, failures: [] });
  const parts = md.split('\n\n');
  assert.equal(parts[0], '<!-- fleet-plan: fleet.yaml switch -->');
  assert.equal(parts[1], '#### fleet plan (switch): 3 of 5 nodes change');
  assert.equal(parts[2], '1 build, 3 copies, 3 of 5 nodes to activate in 2 waves');
  assert.equal(parts[3], '**`web-1`, `web-2`** (2 nodes): 1 changed, 1 added, +2.0 KiB · switch needed');
  assert.equal(parts[4], '|  | package | version | size |\n| --- | --- | --- | --- |\n| changed | `hello` | 2.10 → 2.12 | +120 B |\n| added | `libfoo` | 1.0 | +12.6 KiB |');
  assert.equal(parts[5], '`web-3`: switch needed · diff: not built yet on local (fleet diff builds it)');
  assert.equal(parts[6], '**No change** (2): `db-1`, `db-2` · up to date');
  assert.match(parts[7]!, /^<details><summary>Builds: 3 derivations on 1 build host<\/summary>$/);
  assert.ok(md.includes('| `web-1` | switch needed | gen 4 o000000-nixos-system-web-1 | `n000000-nixos-system-web-1` | copy from local |'), md);
  assert.ok(md.includes('| 2 | `web-2`, `web-3`, `db-1`, `db-2` | 1 |'), md);
  assert.ok(md.endsWith('</details>\n'));
});

void test('plan Markdown: a locked node is left out of its diff group, and out of the group\'s size range', () => {
  const groups = [{ ...group(['a', 'b'], { changed: [change('hello', ['1'], ['2'], 10)] }), systems: { ...group(['a'], {}, 100).systems, ...group(['b'], {}, 900).systems } }];
  const md = formatPlanMarkdown({ marker: 'f switch', plan: plan([node('a'), locked('b')]), groups, notes: {}, failures: [] });
  assert.ok(md.includes('\n\n**`a`**: 1 changed, +100 B · switch needed\n\n'), md);
});

void test('plan Markdown: nothing to do, a locked node and one that could not be planned are called out first', () => {
  const quiet = formatPlanMarkdown({ marker: 'f switch', plan: plan([upToDate('a')]), groups: [], notes: {}, failures: [] });
  assert.match(quiet, /^<!-- fleet-plan: f switch -->\n\n#### fleet plan \(switch\): no change\n\n0 builds, 0 copies, 0 of 1 node to activate\n\n\*\*No change\*\* \(1\): `a` · up to date\n/);
  const md = formatPlanMarkdown({
    marker: 'f switch', plan: plan([node('a'), locked('b')]), groups: [], notes: {},
    failures: [{ node: 'c', message: 'c: connect: ssh: connect to host 10.0.0.3 port 22: Connection timed out' }, { node: 'd', message: 'd: evaluate: error: attribute missing\n       at hive.nix:3:5' }],
  });
  const parts = md.split('\n\n');
  assert.equal(parts[1], '#### fleet plan (switch): 2 of 4 nodes change');
  assert.equal(parts[2], '1 build, 1 copy, 1 of 2 nodes to activate · 1 locked · 2 could not be planned');
  assert.equal(parts[3], '**Could not be planned** (2)');
  assert.equal(parts[4], '| node | why |\n| --- | --- |\n| `c` | c: connect: ssh: connect to host 10.0.0.3 port 22: Connection timed out |\n| `d` | d: evaluate: error: attribute missing |');
  assert.equal(parts[5], '<details><summary>full errors</summary>');
  assert.equal(parts[6], '`d`');
  assert.equal(parts[7], '```\nd: evaluate: error: attribute missing\n       at hive.nix:3:5\n```');
  assert.equal(parts[9], '**Locked** (1): another run is deploying them; apply leaves them alone');
  assert.match(parts[10]!, /^\| node \| lock \|\n\| --- \| --- \|\n\| `b` \| locked by run 20261121T091502Z-3fa9c1d2 \(bob@ci, pid 42\) since 2026-11-21T\S+, until \S+ unless renewed; not touched: use --break-lock if that run is gone \|$/);
  assert.equal(parts[11], '`a`: switch needed');
});

void test('Markdown: long lists collapse: node names past NAMES_SHOWN, package tables past PACKAGE_ROWS_SHOWN rows', () => {
  const names = Array.from({ length: NAMES_SHOWN + 5 }, (_v, i) => `web-${i + 1}`);
  const packages = Array.from({ length: PACKAGE_ROWS_SHOWN + 1 }, (_v, i) => change(`pkg${i}`, [], ['1'], 10));
  const md = formatDiffMarkdown({ marker: 'f switch', goal: 'switch', groups: [group(names, { added: packages })], failures: [] });
  assert.ok(md.includes(`**${names.slice(0, NAMES_SHOWN).map((n) => `\`${n}\``).join(', ')} and 5 more** (25 nodes): 16 added, +2.0 KiB`), md);
  assert.ok(md.includes(`<details><summary>all 25 nodes</summary>\n\n${names.map((n) => `\`${n}\``).join(', ')}\n\n</details>`), md);
  assert.ok(md.includes('<details><summary>16 packages</summary>\n\n|  | package | version | size |'), md);
  const short = formatDiffMarkdown({ marker: 'f switch', goal: 'switch', groups: [group(['a'], { added: packages.slice(0, PACKAGE_ROWS_SHOWN) })], failures: [] });
  assert.ok(!short.includes('<details>'), short);
});

void test('diff Markdown: headline, change sets, nodes without change, nodes not compared', () => {
  const md = formatDiffMarkdown({
    marker: 'fleet.yaml switch', goal: 'switch',
    groups: [group(['d1', 'd2'], { changed: [change('hello', ['2.10'], ['2.12'], 2048)], removed: [change('libfoo', ['1.0'], [], -5000)] }, -2952), group(['d3'], {}, 0)],
    failures: [{ node: 'd4', message: 'd4: connect: Connection refused' }],
  });
  const parts = md.split('\n\n');
  assert.deepEqual(parts.slice(0, 4), ['<!-- fleet-diff: fleet.yaml switch -->', '#### fleet diff (switch): 2 of 3 nodes change', '1 distinct change set · 1 could not be compared', '**Could not be compared** (1)']);
  assert.ok(md.includes('**`d1`, `d2`** (2 nodes): 1 changed, 1 removed, -2.9 KiB\n\n|  | package | version | size |\n| --- | --- | --- | --- |\n| changed | `hello` | 2.10 → 2.12 | +2.0 KiB |\n| removed | `libfoo` | 1.0 | -4.9 KiB |'), md);
  assert.ok(md.endsWith('**No change** (1): `d3`\n'), md);
  assert.ok(md.includes('| `d4` | d4: connect: Connection refused |'), md);
});

void test('Markdown rendered by cmark-gfm (GitHub\'s renderer): hostile text from Nix, a lock record and package names stays text', { skip: requireTool('cmark-gfm') }, async () => {
  const hostile = '<script>alert(1)</script> <img src=x onerror=alert(2)> **bold** _em_ [link](https://evil.example) `code` | cell ~~gone~~ &amp; </details>';
  const md = formatPlanMarkdown({
    marker: 'fleet.yaml switch on a-->b',
    plan: plan([node('web_1_'), locked('db-1', `<b>${hostile}</b>`)]),
    groups: [group(['web_1_'], { changed: [change('__init__', ['1_0_'], ['2*0'], 10)], added: [change('a_b_c', [], ['|x|'], 5)] })],
    notes: {},
    failures: [{ node: 'cache-1', message: `cache-1: evaluate: error: ${hostile}\n\`\`\`\n</details>\n# not a heading` }],
  });
  const html = await renderGfm(md);
  // Only the markup fleet writes: no script, img, anchor, emphasis or strikethrough from the text.
  assert.deepEqual(tagsOf(html), ['code', 'details', 'h4', 'li', 'p', 'pre', 'strong', 'summary', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul'], html);
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; **bold** _em_ [link](https://evil.example) `code` | cell ~~gone~~ &amp;amp; &lt;/details&gt;'), html);
  assert.ok(html.includes('<td><code>__init__</code></td>\n<td>1_0_ → 2*0</td>'), html);
  assert.ok(html.includes('<td><code>a_b_c</code></td>\n<td>|x|</td>'), html);
  assert.ok(html.includes('<strong><code>web_1_</code></strong>'), html);
  assert.ok(html.startsWith('<!-- fleet-plan: fleet.yaml switch on a-%2D%3Eb -->\n'), html);
  // The full error is one code block, closed where fleet closes it: the text's own fence and </details> are inside.
  assert.ok(html.includes('<pre><code>cache-1: evaluate: error: &lt;script&gt;'), html);
  assert.ok(html.includes('```\n&lt;/details&gt;\n# not a heading\n</code></pre>'), html);
  assert.equal(html.match(/<details>/g)?.length, html.match(/<\/details>/g)?.length);
});

const cli = (args: string[]) => runCliCaptured(args);

void test('CLI: --json with another --format is refused before anything is read (exit 2); an unknown format too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-md-'));
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, 'version: 1\nnix: {file: ./hive.nix}\nnodes: {a: {host: a.example}}\n');
  for (const [command, format] of [['plan', 'markdown'], ['diff', 'markdown']] as const) {
    const r = await cli(['-f', file, command, '--json', '--format', format]);
    assert.equal(r.code, 2, command);
    assert.equal(r.stderr, `fleet: ${FORMAT_CONFLICT(format)}\n`, command);
  }
  assert.equal(FORMAT_CONFLICT('markdown'), '--json is --format json: leave out one of --json and --format markdown');
  const unknown = await cli(['-f', file, 'plan', '--format', 'html']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /option '--format <format>' argument 'html' is invalid\. Allowed choices are text, json, markdown\./);
});
