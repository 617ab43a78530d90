// The one place text becomes Markdown (GitHub/GitLab flavoured) or HTML for a pull-request comment: every
// word that comes from a target, from Nix or from the fleet file goes through here, so none can inject markup.
import { forTerminal, oneLine } from '../util/terminal-text.js';

// Inline syntax: escapes, code, emphasis, links and images, table cells, strikethrough. (Block syntax, `#` or
// `1.`, means something only at the start of a line, where fleet puts its own words, never a target's.)
const inlineSyntax = /[\\`*_[\]|~]/g;

/** HTML's special characters as entities: what a `<summary>` or an HTML comment may hold. */
export function htmlText(text: string): string {
  return oneLine(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Text inside a line (after fleet's words, or in a table cell) as Markdown that shows exactly that text: line
 *  breaks become spaces, control characters visible, HTML as entities, inline syntax backslash-escaped (`\|`
 *  also inside a table cell). */
export function mdText(text: string): string {
  // GFM links bare URLs (`https://`, `www.`) by itself: an escape in them keeps a target's URL plain text.
  return htmlText(text).replace(inlineSyntax, (c) => `\\${c}`).replace(/:\/\//g, '\\://').replace(/\b(www)\./gi, '$1\\.');
}

/** An identifier (node, package, store path) as inline code when that is safe, else as escaped text. */
export function mdCode(text: string): string {
  return /^[A-Za-z0-9+._?=/:@,-]+$/.test(text) ? `\`${text}\`` : mdText(text);
}

/** Text of many lines (a Nix error) as a fenced code block: nothing inside is markup; the fence is longer
 *  than any run of backticks in the text, so the text cannot close it. */
export function mdBlock(text: string): string {
  const lines = text.split('\n').map((l) => forTerminal(l.replace(/\r/g, '')));
  const longest = Math.max(0, ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((run) => run.length))));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [fence, ...lines, fence].join('\n');
}

/** A collapsed section: the summary as HTML (GitHub renders no Markdown there), the body as Markdown. */
export function mdDetails(summaryHtml: string, body: string): string {
  return `<details><summary>${summaryHtml}</summary>\n\n${body}\n\n</details>`;
}

/** A table: header cells and rows of cells already escaped (mdText / mdCode). */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The invisible first line a CI job finds its earlier comment by: `<!-- fleet-plan: fleet.yaml switch -->`.
 *  Kept to characters that cannot end an HTML comment or break a grep; anything else is percent-encoded. */
export function mdMarker(kind: string, id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._/:@,*!&+=~ -]/g, (c) => encodeURIComponent(c).replace(/[!'()*]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`));
  return `<!-- ${kind}: ${safe.replace(/--/g, '-%2D').replace(/-$/, '%2D')} -->`;
}
