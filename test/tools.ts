// Outside programs the tests check fleet's output with (Prometheus's promtool, GitHub's cmark-gfm): installed by
// scripts/setup.sh. Missing: a test skips locally with the reason, and fails in CI (CI=true), never skips there.
import { execa } from 'execa';
import { findExecutable } from '../lab/which.js';
import { isCi } from '../src/ui/choose.js';

const packages: Record<string, string> = { promtool: 'prometheus', 'cmark-gfm': 'cmark-gfm' };

/** The `skip` option of a test that needs `tool`: false when it is there; throws in CI when it is not. */
export function requireTool(tool: keyof typeof packages & string): string | false {
  if (findExecutable(tool)) return false;
  const why = `${tool} is missing (apt-get install ${packages[tool]}; bash scripts/setup.sh installs it)`;
  if (isCi(process.env)) throw new Error(`this test cannot run in CI: ${why}`);
  return why;
}

/** `promtool check metrics` on the text: its exit code and its complaints (parse errors and lint problems). */
export async function promtoolCheck(text: string): Promise<{ code: number; problems: string }> {
  const r = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
  return { code: r.exitCode ?? -1, problems: `${String(r.stdout)}${String(r.stderr)}`.trim() };
}

/** Markdown as GitHub renders it (cmark-gfm with GitHub's extensions); raw HTML kept, so any that got through shows. */
export async function renderGfm(markdown: string): Promise<string> {
  const r = await execa('cmark-gfm', ['--unsafe', '-e', 'table', '-e', 'strikethrough', '-e', 'autolink', '-e', 'tasklist'], { input: markdown });
  return String(r.stdout);
}

/** The HTML tags in rendered Markdown, each once, sorted: what a comment may hold is checked against a list. */
export function tagsOf(html: string): string[] {
  return [...new Set([...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => m[1]!.toLowerCase()))].sort();
}
