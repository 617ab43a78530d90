// `--format` beside `--json` (which stays: it is `--format json`), and the marker a CI job finds its comment by.
import { relative } from 'node:path';
import { UsageError } from '../errors.js';
import type { Goal } from '../goal.js';

export type OutputFormat = 'text' | 'json' | 'markdown' | 'prometheus';

export const FORMAT_CONFLICT = (format: string) => `--json is --format json: leave out one of --json and --format ${format}`;

/** The format asked for: `--format`, else `--json`, else text. */
export function outputFormat<F extends OutputFormat>(options: { json?: boolean; format?: F }): F | 'json' | 'text' {
  if (options.json && options.format !== undefined && options.format !== 'json') throw new UsageError(FORMAT_CONFLICT(options.format));
  return options.format ?? (options.json ? 'json' : 'text');
}

/** What a Markdown comment is identified by: the fleet file as seen from the working directory (a CI checkout's
 *  root, the same on every run), the goal, and the selector when there is one. */
export function commentId(fleetFile: string, cwd: string, goal: Goal, on?: string): string {
  const file = relative(cwd, fleetFile) || fleetFile;
  return `${file} ${goal}${on !== undefined ? ` on ${on}` : ''}`;
}
