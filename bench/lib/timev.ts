// Wall time and peak memory of a whole process, measured by GNU time (`/usr/bin/time -v`), not by us.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { NIX_ENV } from './fleet.js';
import { timeIt } from './stats.js';

export interface TimedProcess {
  wallMs: number; // GNU time's elapsed (10 ms resolution)
  hrMs: number; // our monotonic clock around it, for finer resolution
  maxRssKB: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23" → ms. */
export function parseElapsed(text: string): number {
  const value = /Elapsed \(wall clock\) time \([^)]*\):\s*([\d:.]+)/.exec(text)?.[1];
  if (!value) throw new Error(`no elapsed time in /usr/bin/time output:\n${text}`);
  return value.split(':').reduce((acc, part) => acc * 60 + Number(part), 0) * 1000;
}

export function parseMaxRss(text: string): number {
  const value = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(text)?.[1];
  if (!value) throw new Error(`no maximum resident set size in /usr/bin/time output:\n${text}`);
  return Number(value);
}

export async function runTimed(argv: string[], options: { cwd?: string; env?: Record<string, string>; expectCode?: number } = {}): Promise<TimedProcess> {
  const dir = await mkdtemp('/tmp/bench-time-');
  const report = `${dir}/time.txt`;
  try {
    const { ms, value: r } = await timeIt(() =>
      execa('/usr/bin/time', ['-v', '-o', report, ...argv], {
        reject: false, stdin: 'ignore', timeout: 300_000, cwd: options.cwd, env: { ...NIX_ENV, ...options.env },
      }),
    );
    const code = r.exitCode ?? -1;
    if (code !== (options.expectCode ?? 0)) throw new Error(`${argv.join(' ')} exited ${code}\n${String(r.stderr).slice(-2000)}`);
    const text = await readFile(report, 'utf8');
    return { wallMs: parseElapsed(text), hrMs: ms, maxRssKB: parseMaxRss(text), code, stdout: String(r.stdout), stderr: String(r.stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
